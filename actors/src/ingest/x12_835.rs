//! The X12 reader's 835 (`practice_protocol::x12::read::remit`) turned into the reader-neutral
//! `Remittance` the ERA matcher reads: money gets its currency, dates are parsed, BPR04 names
//! the payment method, REF*6R and SVC06 are kept for line matching.

use super::remit::{ProviderAdjustment, RemitClaim, RemitLine, Remittance};
use chrono::NaiveDate;
use practice_protocol::claim::{Adjustment, AdjustmentGroup};
use practice_protocol::domain::PaymentMethod;
use practice_protocol::x12::read::remit as x12;
use practice_protocol::{Currency, Money};

/// Why an 835 as read cannot be posted automatically. Each names where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Era835Error {
    #[error("{field}: missing (required to post)")]
    Missing { field: String },
    #[error("{field}: expected {expected}, found {found:?}")]
    Malformed { field: String, expected: String, found: String },
}

fn date(field: &str, text: &str) -> Result<NaiveDate, Era835Error> {
    NaiveDate::parse_from_str(text.trim(), "%Y%m%d").map_err(|_| Era835Error::Malformed {
        field: field.into(),
        expected: "a date CCYYMMDD".into(),
        found: text.into(),
    })
}

fn adjustment(field: &str, cas: &x12::Adjustment, currency: Currency) -> Result<Adjustment, Era835Error> {
    let group = AdjustmentGroup::parse(cas.group.trim()).ok_or_else(|| Era835Error::Malformed {
        field: format!("{field}.group"),
        expected: "a CAS group code (CO, PR, OA, PI, CR)".into(),
        found: cas.group.to_string(),
    })?;
    Ok(Adjustment {
        group,
        reason: cas.reason.trim().to_string(),
        amount: Money::new(cas.amount, currency),
        quantity: cas.quantity,
    })
}

/// Convert one 835 transaction set. `currency` is the practice's (835s carry no currency).
pub fn from_x12(remit: &x12::Remittance, currency: Currency) -> Result<Remittance, Era835Error> {
    let money = |amount| Money::new(amount, currency);
    let trace_number = remit
        .payment
        .trace_number
        .as_ref()
        .map(|trace| trace.trim().to_string())
        .filter(|trace| !trace.is_empty())
        .ok_or_else(|| Era835Error::Missing { field: "TRN02".into() })?;
    let paid_on = match &remit.payment.date {
        Some(text) => date("BPR16", text)?,
        None => return Err(Era835Error::Missing { field: "BPR16".into() }),
    };
    let payer_id = remit
        .payer
        .references
        .iter()
        .find(|reference| reference.qualifier.trim() == "2U")
        .map(|reference| reference.value.to_string())
        .or_else(|| remit.payer.id.as_ref().map(|id| id.to_string()))
        .or_else(|| remit.payment.originator.as_ref().map(|id| id.to_string()));
    let mut claims = Vec::with_capacity(remit.claims.len());
    for (claim_index, claim) in remit.claims.iter().enumerate() {
        let at = format!("CLP[{claim_index}]");
        let adjustments = claim
            .adjustments
            .iter()
            .enumerate()
            .map(|(i, cas)| adjustment(&format!("{at}.CAS[{i}]"), cas, currency))
            .collect::<Result<Vec<_>, _>>()?;
        let mut lines = Vec::with_capacity(claim.services.len());
        for (line_index, service) in claim.services.iter().enumerate() {
            let line_at = format!("{at}.SVC[{line_index}]");
            let service_date = service
                .dates
                .iter()
                .find(|dated| matches!(dated.qualifier.trim(), "472" | "150"))
                .map(|dated| date(&format!("{line_at}.DTM"), &dated.date))
                .transpose()?;
            lines.push(RemitLine {
                procedure: service.procedure.to_string(),
                modifiers: service.modifiers.iter().map(|m| m.to_string()).collect(),
                submitted_procedure: service.original_procedure.as_ref().map(|p| p.code.to_string()),
                submitted_modifiers: service
                    .original_procedure
                    .as_ref()
                    .map(|p| p.modifiers.iter().map(|m| m.to_string()).collect())
                    .unwrap_or_default(),
                charge: money(service.charge),
                paid: money(service.paid),
                units: Some(service.units),
                service_date,
                line_control_number: service.line_item_control_number.as_ref().map(|n| n.to_string()),
                allowed: service
                    .amounts
                    .iter()
                    .find(|amount| amount.qualifier.trim() == "B6")
                    .map(|amount| money(amount.value)),
                adjustments: service
                    .adjustments
                    .iter()
                    .enumerate()
                    .map(|(i, cas)| adjustment(&format!("{line_at}.CAS[{i}]"), cas, currency))
                    .collect::<Result<Vec<_>, _>>()?,
                remark_codes: service.remarks.iter().map(|remark| remark.value.to_string()).collect(),
            });
        }
        let remark_codes = claim
            .outpatient
            .iter()
            .chain(claim.inpatient.iter())
            .flat_map(|adjudication| adjudication.remarks.iter().map(|remark| remark.to_string()))
            .collect();
        claims.push(RemitClaim {
            patient_control_number: claim.patient_control_number.to_string(),
            status_code: claim.status.trim().to_string(),
            charge: money(claim.charge),
            paid: money(claim.paid),
            patient_responsibility: claim.patient_responsibility.map(money),
            payer_claim_control_number: claim.payer_claim_control_number.as_ref().map(|n| n.to_string()),
            adjustments,
            remark_codes,
            lines,
        });
    }
    let provider_adjustments = remit
        .provider_adjustments
        .iter()
        .map(|plb| ProviderAdjustment {
            provider_id: plb.provider_id.to_string(),
            reason_code: plb.reason.trim().to_string(),
            reference: plb.reference.as_ref().map(|r| r.to_string()),
            amount: money(plb.amount),
        })
        .collect();
    Ok(Remittance {
        trace_number,
        payer_id,
        payer_name: remit.payer.name.as_ref().map(|n| n.to_string()).unwrap_or_default(),
        method: PaymentMethod::from_bpr04(remit.payment.method.trim()),
        total_paid: money(remit.payment.amount),
        paid_on,
        claims,
        provider_adjustments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::ingest::era::{match_remittance, ClaimIndex, ProviderEntryKind};
    use chrono::{TimeZone, Utc};
    use practice_protocol::claim::{
        decide, ClaimCommand, ClaimEvent, ClaimState, ClaimStatus, DecideContext, PostingKind,
    };
    use practice_protocol::roles::{Actor, SystemComponent};
    use practice_protocol::x12::read::{read_document, TransactionBody};
    use practice_protocol::x12::Severity;
    use rust_decimal_macros::dec;

    /// An 835 interchange around `body` segments (without ST/SE), counts computed.
    fn interchange(trace: &str, paid: &str, body: &[String]) -> String {
        let mut segments = vec![
            "ST*835*0001".to_string(),
            format!("BPR*I*{paid}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20260330"),
            format!("TRN*1*{trace}*1512345678"),
            "N1*PR*PAYER 87726".to_string(),
            "N3*1 PLAN WAY".to_string(),
            "N4*SPRINGFIELD*IL*62701".to_string(),
            "REF*2U*87726".to_string(),
            "PER*BL*EDI*TE*8005550100".to_string(),
            "N1*PE*SPRINGFIELD FAMILY MEDICINE*XX*1234567893".to_string(),
            "REF*TJ*361234567".to_string(),
            "LX*1".to_string(),
        ];
        segments.extend(body.iter().cloned());
        let count = segments.len() + 1;
        segments.push(format!("SE*{count}*0001"));
        let isa =
            "ISA*00*          *00*          *ZZ*PAYER87726     *ZZ*PRACTICE       *260330*0930*^*00501*000000101*0*T*:";
        let gs = "GS*HP*PAYER87726*PRACTICE*20260330*0930*101*X*005010X221A1";
        let mut text = format!("{isa}~\n{gs}~\n");
        for segment in segments {
            text.push_str(&segment);
            text.push_str("~\n");
        }
        text.push_str("GE*1*101~\nIEA*1*000000101~\n");
        text
    }

    /// The claim at `sign` (−1 for its reversal): line 1 paid `line1_paid` with CO-45 making
    /// up the rest after PR-2 20; line 2 paid 20 with CO-45 5 and no REF*6R.
    fn clp(claim: &practice_protocol::domain::Claim, status: &str, sign: i64, line1_paid: i64) -> Vec<String> {
        let s = |amount: i64| format!("{}.00", amount * sign);
        let co45 = 150 - 20 - line1_paid;
        vec![
            format!(
                "CLP*{}*{status}*{}*{}*{}*12*CCN-1*11*1",
                claim.patient_control_number,
                s(175),
                s(line1_paid + 20),
                s(20)
            ),
            "NM1*QC*1*DOE*PAT****MI*W123456789".to_string(),
            format!("SVC*HC:99213*{}*{}**1", s(150), s(line1_paid)),
            "DTM*472*20260302".to_string(),
            format!("CAS*CO*45*{}", s(co45)),
            format!("CAS*PR*2*{}", s(20)),
            format!("REF*6R*{}", claim.lines[0].id),
            format!("AMT*B6*{}", s(line1_paid + 20)),
            format!("SVC*HC:36415*{}*{}**1", s(25), s(20)),
            "DTM*472*20260302".to_string(),
            format!("CAS*CO*45*{}", s(5)),
        ]
    }

    fn read(text: &str) -> Remittance {
        let (document, diagnostics) = read_document(text.as_bytes()).unwrap();
        assert!(diagnostics.iter().all(|d| d.severity != Severity::Error), "{diagnostics:?}");
        let TransactionBody::Remittance(remit) = &document.transactions[0].body else {
            panic!("not an 835: {:?}", document.transactions[0].body);
        };
        from_x12(remit, Currency::USD).unwrap()
    }

    fn post(state: &mut ClaimState, remit: &Remittance, claim: &practice_protocol::domain::Claim) -> Vec<PostingKind> {
        let outcome = match_remittance(remit, &ClaimIndex::new([claim]));
        assert!(outcome.suspense.is_empty(), "{:?}", outcome.suspense);
        let actor = Actor::System { org: claim.org, component: SystemComponent::Ingestion };
        let context = DecideContext::at(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap());
        let mut kinds = Vec::new();
        for posting in &outcome.postings {
            let command = ClaimCommand::PostRemittance { posting: Box::new(posting.posting.clone()) };
            for event in decide(state, posting.command_id, &command, &actor, &context).unwrap() {
                state.apply(&event);
            }
            kinds.push(posting.posting.kind);
        }
        kinds
    }

    #[test]
    fn an_x12_835_posts_through_the_matcher() {
        let claim = fixture::claim();
        let mut state = ClaimState::default();
        for event in [
            ClaimEvent::Created { claim: Box::new(claim.clone()) },
            ClaimEvent::SignedOff,
            ClaimEvent::ScrubPassed { warnings: vec![] },
            ClaimEvent::Submitted { tracking_id: "ISA1".into(), frequency: claim.frequency },
        ] {
            state.apply(&event);
        }
        let first = read(&interchange("EFT1", "100.00", &clp(&claim, "1", 1, 80)));
        assert_eq!((first.trace_number.as_str(), first.payer_id.as_deref()), ("EFT1", Some("87726")));
        assert_eq!(first.paid_on, fixture::date(2026, 3, 30));
        assert_eq!(first.claims[0].lines[0].allowed, Some(Money::usd(dec!(100))));
        assert!(first.balances());
        assert_eq!(post(&mut state, &first, &claim), [PostingKind::Original]);
        assert_eq!(state.ledger.as_ref().unwrap().totals.paid, dec!(100));
        // Reversal + correction (line 1 paid 95) and PLB: recoupment 5 and interest 1.25.
        let mut body = clp(&claim, "22", -1, 80);
        body.extend(clp(&claim, "1", 1, 95));
        body.push("PLB*1234567893*20261231*WO:CCN-0*5.00*L6:CCN-1*-1.25".to_string());
        let second = read(&interchange("EFT2", "11.25", &body));
        assert!(second.balances());
        assert_eq!(post(&mut state, &second, &claim), [PostingKind::Reversal, PostingKind::Correction]);
        let ledger = state.ledger.as_ref().unwrap();
        assert_eq!(
            (ledger.totals.paid, ledger.lines[0].buckets.paid, ledger.lines[1].buckets.paid),
            (dec!(115), dec!(95), dec!(20))
        );
        assert!(ledger.conservation_holds());
        assert_eq!(state.status, Some(ClaimStatus::Paid));
        let entries = match_remittance(&second, &ClaimIndex::new([&claim])).provider_entries;
        let kinds: Vec<ProviderEntryKind> = entries.iter().map(|entry| entry.kind).collect();
        assert_eq!(kinds, [ProviderEntryKind::Recoupment, ProviderEntryKind::Interest]);
        // The same file again posts nothing.
        assert_eq!(post(&mut state, &second, &claim).len(), 2, "matched again");
        assert_eq!(state.ledger.as_ref().unwrap().totals.paid, dec!(115), "but posted once");
    }

    #[test]
    fn missing_trace_and_bad_dates_are_typed_errors() {
        let claim = fixture::claim();
        let text = interchange("EFT1", "100.00", &clp(&claim, "1", 1, 80));
        let (document, _) =
            read_document(text.replace("TRN*1*EFT1*1512345678", "TRN*1**1512345678").as_bytes()).unwrap();
        let TransactionBody::Remittance(remit) = &document.transactions[0].body else { panic!("not an 835") };
        assert_eq!(from_x12(remit, Currency::USD), Err(Era835Error::Missing { field: "TRN02".into() }));
        let (document, _) = read_document(text.replace("DTM*472*20260302", "DTM*472*20261340").as_bytes()).unwrap();
        let TransactionBody::Remittance(remit) = &document.transactions[0].body else { panic!("not an 835") };
        assert!(
            matches!(from_x12(remit, Currency::USD), Err(Era835Error::Malformed { field, .. }) if field == "CLP[0].SVC[0].DTM")
        );
    }
}
