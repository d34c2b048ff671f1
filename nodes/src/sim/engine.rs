//! The simulator itself: receives our 837 batches on a simulated clock and answers like the
//! real world — a 999 the same day or the next, a 277CA a day or three later, the 835 days or
//! weeks after that (per payer type, REALISM.md §5), later reversals with corrections and PLB
//! recoupments, interest on late payments. One 835 per payer per payment day.
//!
//! Deterministic: every draw comes from a stream derived from (seed, claim, submission) or
//! (seed, batch), and outputs are ordered by (day, kind, payer, insertion), so a seed and the
//! same calls replay exactly.

use super::adjudicate::{adjudicate, front_end, Circumstances, FrontEnd};
use super::profile::{cents, PayerProfile};
use super::remit::{correct, remit_claim};
use super::rng::SimRng;
use super::truth::{GroundTruth, PlbTruth, SubmissionTruth};
use chrono::NaiveDate;
use practice_actors::ingest::remit::{ProviderAdjustment, RemitClaim, Remittance};
use practice_protocol::codes::{Npi, TaxId};
use practice_protocol::domain::{Claim, ClaimFrequency, PaymentMethod, PersonName};
use practice_protocol::ids::{ClaimId, PatientId, PayerId};
use practice_protocol::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the simulated clearinghouse and payers send back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SimOutput {
    /// 999 for one batch: accepted, or the whole functional group rejected.
    Ack999 { on: NaiveDate, batch_id: String, accepted: bool, claims: Vec<ClaimId> },
    /// 277CA for one claim.
    Ack277 {
        on: NaiveDate,
        claim_id: ClaimId,
        patient_control_number: String,
        accepted: bool,
        payer_claim_control_number: Option<String>,
        /// STC01: category (A2 accepted; A3/A6/A7/A8 rejected), status code, entity.
        category: String,
        status_code: String,
        entity: Option<String>,
        reason: String,
    },
    /// One payer's 835 for one payment day.
    Remit { on: NaiveDate, payer_id: PayerId, remittance: Box<Remittance> },
}

impl SimOutput {
    pub fn on(&self) -> NaiveDate {
        match self {
            SimOutput::Ack999 { on, .. } | SimOutput::Ack277 { on, .. } | SimOutput::Remit { on, .. } => *on,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("batch {batch_id} is empty")]
    EmptyBatch { batch_id: String },
    #[error("batch {batch_id}: claims in {found}, the simulator pays in {expected}")]
    Currency { batch_id: String, expected: Currency, found: Currency },
    #[error("cannot move the clock back from {today} to {requested}")]
    ClockBackwards { today: NaiveDate, requested: NaiveDate },
}

#[derive(Clone, Debug)]
enum Scheduled {
    Ack999 { batch_id: String, accepted: bool, claims: Vec<ClaimId> },
    Ack277 { claim_id: ClaimId, pcn: String, result: FrontEnd },
    Pay { payer_id: PayerId, claim: Box<RemitClaim>, interest: Option<ProviderAdjustment> },
    Recoup { payer_id: PayerId, adjustment: ProviderAdjustment },
}

/// What the payer keeps about a received claim to write its 277CA and 835 (names and member
/// ids are PHI: held in memory for the files, never logged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimMeta {
    pub claim_id: ClaimId,
    pub patient_name: PersonName,
    pub member_id: String,
    pub filing_indicator: String,
    pub charge: Money,
    pub service_from: NaiveDate,
    pub service_to: NaiveDate,
    pub billing_name: String,
    pub billing_npi: Npi,
    pub billing_tax_id: TaxId,
    pub received_on: NaiveDate,
}

/// Same patient, payer, dates and codes: the payer's duplicate check.
type ServiceKey = (PatientId, PayerId, Vec<(NaiveDate, String)>);

pub struct Simulator {
    seed: u64,
    currency: Currency,
    profiles: BTreeMap<PayerId, PayerProfile>,
    /// Used for claims addressed to a payer id the simulator does not know: they are
    /// rejected at the front end (A3), like a clearinghouse would.
    today: NaiveDate,
    queue: BTreeMap<NaiveDate, Vec<Scheduled>>,
    truth: GroundTruth,
    seen_services: HashSet<ServiceKey>,
    submissions: HashMap<ClaimId, u32>,
    pending_recoupments: BTreeMap<PayerId, Vec<ProviderAdjustment>>,
    trace_counter: u64,
    billing_npi: String,
    claim_meta: HashMap<String, ClaimMeta>,
}

impl Simulator {
    pub fn new(seed: u64, start: NaiveDate, profiles: Vec<PayerProfile>) -> Simulator {
        Simulator {
            seed,
            currency: Currency::USD,
            profiles: profiles.into_iter().map(|profile| (profile.payer_id.clone(), profile)).collect(),
            today: start,
            queue: BTreeMap::new(),
            truth: GroundTruth::default(),
            seen_services: HashSet::new(),
            submissions: HashMap::new(),
            pending_recoupments: BTreeMap::new(),
            trace_counter: 0,
            billing_npi: String::new(),
            claim_meta: HashMap::new(),
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.today
    }

    pub fn truth(&self) -> &GroundTruth {
        &self.truth
    }

    pub fn profile(&self, payer_id: &PayerId) -> Option<&PayerProfile> {
        self.profiles.get(payer_id)
    }

    /// The last received claim with this patient control number.
    pub fn claim_meta(&self, patient_control_number: &str) -> Option<&ClaimMeta> {
        self.claim_meta.get(patient_control_number)
    }

    /// The first day something is scheduled for.
    pub fn next_scheduled(&self) -> Option<NaiveDate> {
        self.queue.keys().next().copied()
    }

    /// Nothing scheduled.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Receive one 837 batch today. Adjudication happens now; its answers are scheduled.
    /// `true` when the front end rejects the batch as a whole (its 999, still to come, says so).
    pub fn receive(&mut self, batch_id: &str, claims: &[Claim]) -> Result<bool, SimError> {
        let Some(first) = claims.first() else {
            return Err(SimError::EmptyBatch { batch_id: batch_id.to_string() });
        };
        if let Some(other) = claims.iter().find(|claim| claim.currency != self.currency) {
            return Err(SimError::Currency {
                batch_id: batch_id.into(),
                expected: self.currency,
                found: other.currency,
            });
        }
        if self.billing_npi.is_empty() {
            self.billing_npi = first.billing.npi.to_string();
        }
        let mut batch_rng = SimRng::stream(self.seed, &[b"batch", batch_id.as_bytes()]);
        let group_reject = first
            .coverage()
            .and_then(|coverage| self.profiles.get(&coverage.payer.payer_id))
            .map(|profile| profile.params.p_999_group_reject)
            .unwrap_or_default();
        let rejected = batch_rng.chance(group_reject);
        let ack_day = self.today + chrono::Duration::days(batch_rng.between(0, 1));
        let ids: Vec<ClaimId> = claims.iter().map(|claim| claim.id).collect();
        self.schedule(ack_day, Scheduled::Ack999 { batch_id: batch_id.into(), accepted: !rejected, claims: ids });
        for claim in claims {
            self.claim_meta.insert(claim.patient_control_number.to_string(), self.meta(claim));
            let submission = self.submissions.entry(claim.id).or_insert(0);
            *submission += 1;
            if rejected {
                self.truth.record(claim.id, SubmissionTruth::GroupRejected { batch_id: batch_id.into() });
            } else {
                let submission = *submission;
                self.receive_claim(claim, submission, ack_day);
            }
        }
        Ok(rejected)
    }

    /// A batch the clearinghouse could not read (syntax errors, or claims no payer could
    /// adjudicate): a rejecting 999 today, nothing adjudicated.
    pub fn reject_batch(&mut self, batch_id: &str) {
        self.truth.rejected_batches.push(batch_id.to_string());
        let today = self.today;
        self.schedule(today, Scheduled::Ack999 { batch_id: batch_id.into(), accepted: false, claims: Vec::new() });
    }

    fn receive_claim(&mut self, claim: &Claim, submission: u32, ack_999_day: NaiveDate) {
        let mut rng = SimRng::stream(self.seed, &[b"claim", claim.id.0.as_bytes(), &submission.to_be_bytes()]);
        let payer_ccn = format!("{:015}", rng.below(1_000_000_000_000_000));
        let payer_id = claim.coverage().map(|coverage| coverage.payer.payer_id.clone());
        let Some(profile) = payer_id.as_ref().and_then(|id| self.profiles.get(id)).cloned() else {
            let result = FrontEnd::Rejected {
                category: "A3".into(),
                status_code: "116".into(),
                entity: None,
                reason: "payer id does not route to a known payer".into(),
            };
            self.reject_front_end(claim, ack_999_day + chrono::Duration::days(1), result);
            return;
        };
        let ack_day = ack_999_day
            + chrono::Duration::days(rng.between(profile.params.ack_277ca_days.0, profile.params.ack_277ca_days.1));
        let result = front_end(&profile, &mut rng, payer_ccn.clone());
        if let FrontEnd::Rejected { .. } = result {
            self.reject_front_end(claim, ack_day, result);
            return;
        }
        self.schedule(
            ack_day,
            Scheduled::Ack277 { claim_id: claim.id, pcn: claim.patient_control_number.to_string(), result },
        );
        let key: ServiceKey = (
            claim.patient.id,
            profile.payer_id.clone(),
            claim.lines.iter().map(|line| (line.service_date, line.procedure.to_string())).collect(),
        );
        let duplicate = claim.frequency == ClaimFrequency::Original && self.seen_services.contains(&key);
        self.seen_services.insert(key);
        let circumstances = Circumstances { received_on: self.today, duplicate };
        let adjudication = adjudicate(claim, &profile, &mut rng, circumstances, payer_ccn.clone());
        let params = &profile.params;
        let days = rng.between(params.payment_days.0, params.payment_days.1).max((ack_day - self.today).num_days() + 1);
        let paid_on = self.today + chrono::Duration::days(days);
        let paid = adjudication.paid();
        let late_days = days - params.interest_after_days;
        let interest = if paid > Decimal::ZERO && late_days > 0 {
            cents(paid * params.interest_rate * Decimal::from(late_days) / Decimal::from(365))
        } else {
            Decimal::ZERO
        };
        let interest_plb = (interest > Decimal::ZERO).then(|| ProviderAdjustment {
            provider_id: self.billing_npi.clone(),
            reason_code: "L6".into(),
            reference: Some(payer_ccn.clone()),
            amount: Money::new(-interest, self.currency),
        });
        let remit = remit_claim(&adjudication, self.currency, Decimal::ONE, None);
        self.schedule(
            paid_on,
            Scheduled::Pay { payer_id: profile.payer_id.clone(), claim: Box::new(remit), interest: interest_plb },
        );
        let reverse = paid > Decimal::ZERO && rng.chance(params.p_reversal);
        let recoup = paid > Decimal::ZERO && rng.chance(params.p_recoupment);
        let later = rng.between(14, 60);
        let recoup_share = rng.fraction_between(100, 500);
        let mut truth = SubmissionTruth::Adjudicated {
            adjudication: Box::new(adjudication.clone()),
            paid_on,
            original: None,
            reversed_on: None,
            interest,
        };
        if reverse {
            let reversed_on = paid_on + chrono::Duration::days(later);
            let corrected = correct(&adjudication, self.currency);
            let reversal = remit_claim(&adjudication, self.currency, Decimal::NEGATIVE_ONE, Some("22"));
            let correction = remit_claim(&corrected, self.currency, Decimal::ONE, None);
            for item in [reversal, correction] {
                self.schedule(
                    reversed_on,
                    Scheduled::Pay { payer_id: profile.payer_id.clone(), claim: Box::new(item), interest: None },
                );
            }
            truth = SubmissionTruth::Adjudicated {
                adjudication: Box::new(corrected),
                paid_on,
                original: Some(Box::new(adjudication)),
                reversed_on: Some(reversed_on),
                interest,
            };
        } else if recoup {
            let amount = cents(paid * recoup_share);
            if amount > Decimal::ZERO {
                let adjustment = ProviderAdjustment {
                    provider_id: self.billing_npi.clone(),
                    reason_code: "WO".into(),
                    reference: Some(payer_ccn),
                    amount: Money::new(amount, self.currency),
                };
                self.schedule(
                    paid_on + chrono::Duration::days(later),
                    Scheduled::Recoup { payer_id: profile.payer_id.clone(), adjustment },
                );
            }
        }
        self.truth.record(claim.id, truth);
    }

    fn meta(&self, claim: &Claim) -> ClaimMeta {
        let coverage = claim.coverage();
        let dates = claim.lines.iter().map(|line| line.service_date);
        ClaimMeta {
            claim_id: claim.id,
            patient_name: claim.patient.name.clone(),
            member_id: coverage.map(|c| c.subscriber.member_id.clone()).unwrap_or_default().into(),
            filing_indicator: coverage.map(|c| c.payer.filing_indicator.clone()).unwrap_or_default().into(),
            charge: claim.total_charge(),
            service_from: dates.clone().min().unwrap_or(self.today),
            service_to: dates.max().unwrap_or(self.today),
            billing_name: claim.billing.name.to_string(),
            billing_npi: claim.billing.npi.clone(),
            billing_tax_id: claim.billing.tax_id.clone(),
            received_on: self.today,
        }
    }

    fn reject_front_end(&mut self, claim: &Claim, on: NaiveDate, result: FrontEnd) {
        if let FrontEnd::Rejected { category, status_code, reason, .. } = &result {
            self.truth.record(
                claim.id,
                SubmissionTruth::FrontEndRejected {
                    category: category.clone(),
                    status_code: status_code.clone(),
                    reason: reason.clone(),
                },
            );
        }
        self.schedule(
            on,
            Scheduled::Ack277 { claim_id: claim.id, pcn: claim.patient_control_number.to_string(), result },
        );
    }

    fn schedule(&mut self, on: NaiveDate, item: Scheduled) {
        self.queue.entry(on).or_default().push(item);
    }

    /// Move the clock to `day` and return everything due by then, oldest first; within a day
    /// 999s, then 277CAs, then 835s by payer.
    pub fn advance_to(&mut self, day: NaiveDate) -> Result<Vec<SimOutput>, SimError> {
        if day < self.today {
            return Err(SimError::ClockBackwards { today: self.today, requested: day });
        }
        let mut out = Vec::new();
        let due: Vec<NaiveDate> = self.queue.range(..=day).map(|(date, _)| *date).collect();
        for date in due {
            let items = self.queue.remove(&date).unwrap_or_default();
            self.emit_day(date, items, &mut out);
        }
        self.today = day;
        Ok(out)
    }

    /// Advance until nothing is scheduled (at most `max_days`), returning every output.
    pub fn drain(&mut self, max_days: i64) -> Result<Vec<SimOutput>, SimError> {
        let last = self.queue.keys().next_back().copied().unwrap_or(self.today);
        let until = last.min(self.today + chrono::Duration::days(max_days)).max(self.today);
        self.advance_to(until)
    }

    fn emit_day(&mut self, date: NaiveDate, items: Vec<Scheduled>, out: &mut Vec<SimOutput>) {
        let mut payments: BTreeMap<PayerId, (Vec<RemitClaim>, Vec<ProviderAdjustment>)> = BTreeMap::new();
        let mut acks_277 = Vec::new();
        for item in items {
            match item {
                Scheduled::Ack999 { batch_id, accepted, claims } => {
                    out.push(SimOutput::Ack999 { on: date, batch_id, accepted, claims })
                }
                Scheduled::Ack277 { claim_id, pcn, result } => {
                    let (accepted, ccn, category, status_code, entity, reason) = match result {
                        FrontEnd::Accepted { payer_claim_control_number } => (
                            true,
                            Some(payer_claim_control_number),
                            "A2".to_string(),
                            "20".to_string(),
                            None,
                            "accepted for adjudication".to_string(),
                        ),
                        FrontEnd::Rejected { category, status_code, entity, reason } => {
                            (false, None, category, status_code, entity, reason)
                        }
                    };
                    acks_277.push(SimOutput::Ack277 {
                        on: date,
                        claim_id,
                        patient_control_number: pcn,
                        accepted,
                        payer_claim_control_number: ccn,
                        category,
                        status_code,
                        entity,
                        reason,
                    });
                }
                Scheduled::Pay { payer_id, claim, interest } => {
                    let entry = payments.entry(payer_id).or_default();
                    entry.0.push(*claim);
                    entry.1.extend(interest);
                }
                Scheduled::Recoup { payer_id, adjustment } => {
                    self.pending_recoupments.entry(payer_id).or_default().push(adjustment)
                }
            }
        }
        out.extend(acks_277);
        for (payer_id, (claims, mut plb)) in payments {
            // Take back pending recoupments while the check stays non-negative; the rest waits
            // for the payer's next 835 (what payers do with a forwarding balance).
            let mut total: Decimal = claims.iter().map(|claim| claim.paid.amount).sum::<Decimal>()
                - plb.iter().map(|adjustment| adjustment.amount.amount).sum::<Decimal>();
            let pending = self.pending_recoupments.remove(&payer_id).unwrap_or_default();
            let mut waiting = Vec::new();
            for recoupment in pending {
                if recoupment.amount.amount <= total {
                    total -= recoupment.amount.amount;
                    plb.push(recoupment);
                } else {
                    waiting.push(recoupment);
                }
            }
            self.trace_counter += 1;
            let trace_number = format!("{}{}{:06}", payer_id.as_str(), date.format("%Y%m%d"), self.trace_counter);
            if total < Decimal::ZERO {
                // Reversals outweigh payments today: the payer forwards the balance (PLB FB,
                // negative now so BPR02 is zero) and takes it back from a later check.
                let balance = Money::new(total, self.currency);
                plb.push(ProviderAdjustment {
                    provider_id: self.billing_npi.clone(),
                    reason_code: "FB".into(),
                    reference: Some(trace_number.clone()),
                    amount: balance,
                });
                waiting.push(ProviderAdjustment {
                    provider_id: self.billing_npi.clone(),
                    reason_code: "FB".into(),
                    reference: Some(trace_number.clone()),
                    amount: balance.negate(),
                });
                total = Decimal::ZERO;
            }
            if !waiting.is_empty() {
                self.pending_recoupments.insert(payer_id.clone(), waiting);
            }
            for adjustment in &plb {
                self.truth.plb.push(PlbTruth {
                    payer_id: payer_id.clone(),
                    trace_number: trace_number.clone(),
                    reason_code: adjustment.reason_code.clone(),
                    reference: adjustment.reference.clone(),
                    amount: adjustment.amount.amount,
                });
            }
            let payer_name = self.profiles.get(&payer_id).map(|profile| profile.name.clone()).unwrap_or_default();
            let remittance = Remittance {
                trace_number,
                payer_id: Some(payer_id.to_string()),
                payer_name,
                method: if total > Decimal::ZERO { PaymentMethod::Eft } else { PaymentMethod::NonPayment },
                total_paid: Money::new(total, self.currency),
                paid_on: date,
                claims,
                provider_adjustments: plb,
            };
            out.push(SimOutput::Remit { on: date, payer_id, remittance: Box::new(remittance) });
        }
    }
}
