//! A/R aging: open balances in 0–30, 31–60, 61–90, 91–120 and 120+ day buckets, by payer
//! (insurance A/R) and by patient (patient responsibility still due), exact to the cent.

use chrono::NaiveDate;
use practice_protocol::claim::{ClaimState, ClaimStatus};
use practice_protocol::ids::{ClaimId, PatientId, PayerId};
use practice_protocol::Currency;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgingBucket {
    Days0To30,
    Days31To60,
    Days61To90,
    Days91To120,
    Over120,
}

impl AgingBucket {
    pub const ALL: [AgingBucket; 5] = [
        AgingBucket::Days0To30,
        AgingBucket::Days31To60,
        AgingBucket::Days61To90,
        AgingBucket::Days91To120,
        AgingBucket::Over120,
    ];

    /// The bucket of a balance `days` old (a date in the future counts as current).
    pub fn of(days: i64) -> AgingBucket {
        match days {
            ..=30 => AgingBucket::Days0To30,
            31..=60 => AgingBucket::Days31To60,
            61..=90 => AgingBucket::Days61To90,
            91..=120 => AgingBucket::Days91To120,
            _ => AgingBucket::Over120,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AgingBucket::Days0To30 => "0-30",
            AgingBucket::Days31To60 => "31-60",
            AgingBucket::Days61To90 => "61-90",
            AgingBucket::Days91To120 => "91-120",
            AgingBucket::Over120 => "120+",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One open balance. `payer` is the insurer who owes it; `None` means the patient owes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgingItem {
    pub claim_id: ClaimId,
    pub patient_id: PatientId,
    pub payer: Option<PayerId>,
    pub open: Decimal,
    /// The date the balance ages from (date of service for insurance A/R, statement date for
    /// patient balances).
    pub since: NaiveDate,
}

/// Amounts per bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketTotals {
    pub amounts: [Decimal; 5],
}

impl BucketTotals {
    pub fn get(&self, bucket: AgingBucket) -> Decimal {
        self.amounts[bucket.index()]
    }

    pub fn total(&self) -> Decimal {
        self.amounts.iter().copied().sum()
    }

    fn add(&mut self, bucket: AgingBucket, amount: Decimal) {
        self.amounts[bucket.index()] += amount;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgingReport {
    pub as_of: NaiveDate,
    pub currency: Currency,
    /// Insurance A/R by payer id.
    pub by_payer: BTreeMap<PayerId, BucketTotals>,
    /// Patient A/R by patient.
    pub by_patient: BTreeMap<PatientId, BucketTotals>,
    pub insurance: BucketTotals,
    pub patient: BucketTotals,
}

impl AgingReport {
    /// Insurance and patient A/R together.
    pub fn total(&self) -> BucketTotals {
        let mut total = self.insurance.clone();
        for bucket in AgingBucket::ALL {
            total.add(bucket, self.patient.get(bucket));
        }
        total
    }
}

/// Age every item as of `as_of`. Zero and negative balances (credits) are left out.
pub fn aging(items: &[AgingItem], as_of: NaiveDate, currency: Currency) -> AgingReport {
    let mut report = AgingReport {
        as_of,
        currency,
        by_payer: BTreeMap::new(),
        by_patient: BTreeMap::new(),
        insurance: BucketTotals::default(),
        patient: BucketTotals::default(),
    };
    for item in items.iter().filter(|item| item.open > Decimal::ZERO) {
        let bucket = AgingBucket::of((as_of - item.since).num_days());
        match &item.payer {
            Some(payer) => {
                report.by_payer.entry(payer.clone()).or_default().add(bucket, item.open);
                report.insurance.add(bucket, item.open);
            }
            None => {
                report.by_patient.entry(item.patient_id).or_default().add(bucket, item.open);
                report.patient.add(bucket, item.open);
            }
        }
    }
    report
}

/// Insurance A/R items: the open balance of every billed claim still waiting on its payer
/// (Submitted, Accepted, Denied, PartiallyPaid), aged from its earliest date of service.
/// Draft and Scrubbed claims are not yet receivables; Paid, WrittenOff and Voided are closed.
pub fn payer_items<'a>(states: impl IntoIterator<Item = &'a ClaimState>) -> Vec<AgingItem> {
    states
        .into_iter()
        .filter(|state| {
            matches!(
                state.status,
                Some(ClaimStatus::Submitted | ClaimStatus::Accepted | ClaimStatus::Denied | ClaimStatus::PartiallyPaid)
            )
        })
        .filter_map(|state| {
            let claim = state.claim.as_ref()?;
            let ledger = state.ledger.as_ref()?;
            Some(AgingItem {
                claim_id: claim.id,
                patient_id: claim.patient.id,
                payer: claim.coverage().map(|coverage| coverage.payer.payer_id.clone()),
                open: ledger.open_balance(),
                since: claim.lines.iter().map(|line| line.service_date).min()?,
            })
        })
        .collect()
}

/// Patient A/R items: what each patient still owes per claim after their payments, aged
/// from the date of service.
pub fn patient_items(balances: &[super::PatientBalance]) -> Vec<AgingItem> {
    balances
        .iter()
        .flat_map(|balance| {
            balance.lines.iter().map(move |line| AgingItem {
                claim_id: line.claim_id,
                patient_id: balance.patient_id,
                payer: None,
                open: line.due.amount,
                since: line.service_date,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use practice_protocol::claim::ClaimEvent;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn bucket_boundaries() {
        let cases = [
            (-3, "0-30"),
            (0, "0-30"),
            (30, "0-30"),
            (31, "31-60"),
            (60, "31-60"),
            (61, "61-90"),
            (90, "61-90"),
            (91, "91-120"),
            (120, "91-120"),
            (121, "120+"),
        ];
        for (days, label) in cases {
            assert_eq!(AgingBucket::of(days).label(), label, "{days}");
        }
    }

    #[test]
    fn by_payer_and_by_patient() {
        let as_of = fixture::date(2026, 6, 30);
        let payer = |id: &str| Some(PayerId::parse(id).unwrap());
        let item = |n: u8, p: Option<PayerId>, open, since| AgingItem {
            claim_id: ClaimId::derived(&[&[n]]),
            patient_id: PatientId::derived(&[&[n % 2]]),
            payer: p,
            open,
            since,
        };
        let items = [
            item(1, payer("A"), dec!(100.10), fixture::date(2026, 6, 1)),
            item(2, payer("A"), dec!(50.05), fixture::date(2026, 1, 1)),
            item(3, payer("B"), dec!(20), fixture::date(2026, 4, 15)),
            item(4, None, dec!(12.34), fixture::date(2026, 5, 1)),
            item(5, None, dec!(-5), fixture::date(2026, 5, 1)),
        ];
        let report = aging(&items, as_of, Currency::USD);
        let a = &report.by_payer[&PayerId::parse("A").unwrap()];
        assert_eq!(a.get(AgingBucket::Days0To30), dec!(100.10));
        assert_eq!(a.get(AgingBucket::Over120), dec!(50.05));
        assert_eq!(report.by_payer[&PayerId::parse("B").unwrap()].get(AgingBucket::Days61To90), dec!(20));
        assert_eq!(report.by_patient.len(), 1, "the credit is left out");
        assert_eq!(report.patient.get(AgingBucket::Days31To60), dec!(12.34));
        assert_eq!(report.total().total(), dec!(182.49));
    }

    #[test]
    fn patient_items_age_what_is_still_due() {
        use crate::billing::{patient_balances, PatientCharge};
        let patient = PatientId::derived(&[b"p"]);
        let charge = |n: u8, day, cents| PatientCharge {
            claim_id: ClaimId::derived(&[&[n]]),
            patient_id: patient,
            service_date: fixture::date(2026, 1, day),
            responsibility: practice_protocol::Money::usd(Decimal::new(cents, 2)),
        };
        let balances = patient_balances(&[charge(1, 2, 5000), charge(2, 20, 3000)], &[], Currency::USD).unwrap();
        let report = aging(&patient_items(&balances), fixture::date(2026, 3, 5), Currency::USD);
        assert_eq!(report.by_patient[&patient].get(AgingBucket::Days61To90), dec!(50.00));
        assert_eq!(report.by_patient[&patient].get(AgingBucket::Days31To60), dec!(30.00));
        assert!(report.by_payer.is_empty());
    }

    #[test]
    fn payer_items_take_billed_open_claims_only() {
        let claim = fixture::claim();
        let mut draft = ClaimState::default();
        draft.apply(&ClaimEvent::Created { claim: Box::new(claim.clone()) });
        let mut submitted = draft.clone();
        submitted.apply(&ClaimEvent::Submitted { tracking_id: "T1".into(), frequency: claim.frequency });
        let items = payer_items([&draft, &submitted]);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].open, dec!(175.00));
        assert_eq!(items[0].payer.as_ref().map(PayerId::as_str), Some("87726"));
    }

    proptest! {
        #[test]
        fn totals_are_exact(entries in proptest::collection::vec((0i64..400, 1i64..10_000_000, any::<bool>()), 0..40)) {
            let as_of = fixture::date(2026, 12, 31);
            let items: Vec<AgingItem> = entries.iter().enumerate().map(|(i, (age, cents, insured))| AgingItem {
                claim_id: ClaimId::derived(&[&(i as u32).to_be_bytes()]),
                patient_id: PatientId::derived(&[&[(i % 3) as u8]]),
                payer: insured.then(|| PayerId::parse(if i % 2 == 0 { "A" } else { "B" }).unwrap()),
                open: Decimal::new(*cents, 2),
                since: as_of - chrono::Duration::days(*age),
            }).collect();
            let report = aging(&items, as_of, Currency::USD);
            let sum: Decimal = items.iter().map(|i| i.open).sum();
            prop_assert_eq!(report.total().total(), sum);
            let by_payer: Decimal = report.by_payer.values().map(BucketTotals::total).sum();
            let by_patient: Decimal = report.by_patient.values().map(BucketTotals::total).sum();
            prop_assert_eq!(by_payer, report.insurance.total());
            prop_assert_eq!(by_patient, report.patient.total());
        }
    }
}
