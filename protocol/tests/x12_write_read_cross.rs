//! Our writers' output through the x12read readers: no diagnostics, the 835 balances and its
//! amounts are the ones we wrote, the 277CA statuses and the 999 set results come back, and
//! our 837s and 276 pass the envelope checks (counts and control numbers).

mod support;

use practice_protocol::domain::ClaimType;
use practice_protocol::x12::read::TransactionBody;
use practice_protocol::x12::write::{
    write_276, write_277ca, write_835, write_837, write_999, ElementError, ReceivedGroup, SegmentError,
    SetAcknowledgment, SetStatus, StatusInquiry, StatusRequest,
};
use practice_protocol::x12::{read_document, validate};
use rust_decimal::Decimal;

#[test]
fn remittance_reads_back_balanced_with_our_amounts() {
    let claims = [support::professional_primary("c1"), support::institutional_primary("c2")];
    let remittance = support::remittance(&claims);
    let bytes = write_835(&support::envelope(41), std::slice::from_ref(&remittance)).unwrap();
    let (document, diagnostics) = read_document(&bytes[..]).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let TransactionBody::Remittance(read) = &document.transactions[0].body else { panic!("not an 835") };
    assert!(read.balanced);
    assert_eq!(read.payment.amount, remittance.total_payment());
    assert_eq!(read.payment.trace_number.as_deref(), Some("CHK0001234"));
    assert_eq!(read.claims.len(), remittance.claims.len());
    for (read_claim, written) in read.claims.iter().zip(&remittance.claims) {
        assert_eq!(read_claim.patient_control_number.as_str(), written.patient_control_number);
        assert_eq!(read_claim.paid, written.paid.amount);
        assert_eq!(read_claim.charge, written.charge.amount);
        assert_eq!(read_claim.reversal, written.status.code() == "22");
        for (service, written_service) in read_claim.services.iter().zip(&written.services) {
            assert_eq!(service.paid, written_service.paid.amount);
            assert_eq!(
                service.line_item_control_number.as_ref().map(|text| text.as_str()),
                written_service.line_control_number.as_deref()
            );
            let adjusted: Decimal = service.adjustments.iter().map(|adjustment| adjustment.amount).sum();
            assert_eq!(service.charge - adjusted, service.paid);
        }
    }
    let plb: Decimal = read.provider_adjustments.iter().map(|adjustment| adjustment.amount).sum();
    assert_eq!(plb, Decimal::new(875, 2));
}

#[test]
fn claim_acknowledgment_reads_back_per_claim() {
    let claims = [support::professional_primary("k1"), support::professional_dependent("k2")];
    let bytes = write_277ca(&support::envelope(42), &[support::claim_acknowledgment(&claims)]).unwrap();
    let (document, diagnostics) = read_document(&bytes[..]).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let TransactionBody::ClaimAcknowledgment(report) = &document.transactions[0].body else { panic!("not a 277CA") };
    let statuses: Vec<(Option<&str>, &str)> = report
        .claims
        .iter()
        .map(|claim| (claim.trace_number.as_deref(), claim.statuses[0].category.as_str()))
        .collect();
    assert_eq!(statuses, [(Some("PCNK1"), "A2"), (Some("PCNK2"), "A3")]);
}

#[test]
fn acknowledgment_999_reads_back() {
    let group = ReceivedGroup {
        functional_id: "HC".into(),
        control_number: 9,
        version: "005010X222A1".into(),
        sets: vec![
            SetAcknowledgment {
                set_id: "837".into(),
                control_number: "0001".into(),
                version: Some("005010X222A1".into()),
                status: SetStatus::Rejected,
                syntax_errors: Vec::new(),
                segment_errors: vec![SegmentError {
                    segment_id: "NM1".into(),
                    position: 22,
                    loop_id: Some("2010BA".into()),
                    code: "8".into(),
                    element_errors: vec![ElementError {
                        position: 9,
                        component: None,
                        reference_number: Some("67".into()),
                        code: "1".into(),
                        bad_value: None,
                    }],
                }],
            },
            SetAcknowledgment {
                set_id: "837".into(),
                control_number: "0002".into(),
                version: Some("005010X222A1".into()),
                status: SetStatus::Accepted,
                syntax_errors: Vec::new(),
                segment_errors: Vec::new(),
            },
        ],
    };
    let bytes = write_999(&support::envelope(43), &group).unwrap();
    let (document, diagnostics) = read_document(&bytes[..]).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let TransactionBody::Acknowledgment(ack) = &document.transactions[0].body else { panic!("not a 999") };
    assert_eq!(ack.group_control_number, "9");
    assert_eq!(ack.sets.len(), 2);
    assert_eq!(ack.sets[0].status_code, "R");
    assert_eq!(ack.sets[0].segment_errors[0].segment_id, "NM1");
    assert_eq!(ack.sets[0].segment_errors[0].elements[0].position, "9");
    assert_eq!(ack.sets[1].status_code, "A");
}

#[test]
fn claims_and_status_requests_pass_the_envelope_checks() {
    let professional = write_837(
        &support::submission(44),
        ClaimType::Professional,
        &[support::professional_secondary("e1"), support::professional_dependent("e2")],
    )
    .unwrap();
    let institutional =
        write_837(&support::submission(45), ClaimType::Institutional, &[support::institutional_secondary("e3")])
            .unwrap();
    let claim = support::professional_dependent("e4");
    let request =
        StatusRequest { reference: "R1".into(), receiver_name: "LAKESIDE".into(), receiver_id: "LFM1".into() };
    let inquiry = StatusInquiry { claim: &claim, trace_number: "T1".into(), payer_claim_control_number: None };
    let status = write_276(&support::envelope(46), &request, &[inquiry]).unwrap();
    for bytes in [professional, institutional, status] {
        let diagnostics = validate(&bytes[..]).unwrap();
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    }
}

#[test]
fn acknowledging_received_files() {
    use practice_protocol::x12::write::acknowledge;
    // A clean 837 with two sets (two payers): both accepted.
    let mut other = support::professional_primary("a2");
    other.coverages[0].payer.payer_id = practice_protocol::ids::PayerId::parse("99999").unwrap();
    let file =
        write_837(&support::submission(51), ClaimType::Professional, &[support::professional_primary("a1"), other])
            .unwrap();
    let groups = acknowledge(&file).unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].functional_id.as_str(), groups[0].control_number), ("HC", 51));
    let statuses: Vec<SetStatus> = groups[0].sets.iter().map(|set| set.status).collect();
    assert_eq!(statuses, [SetStatus::Accepted, SetStatus::Accepted]);
    assert_eq!(groups[0].sets[1].control_number, "0002");
    let ack = write_999(&support::envelope(52), &groups[0]).unwrap();
    assert!(String::from_utf8(ack).unwrap().contains("AK9*A*2*2*2~"));

    // An 835 with a bad amount and a wrong SE count: rejected, with IK3/IK4 and IK5 4.
    let remittance = support::remittance(&[support::professional_primary("a3")]);
    let text = String::from_utf8(write_835(&support::envelope(53), &[remittance]).unwrap()).unwrap();
    let clp = text.lines().find(|line| line.starts_with("CLP*")).unwrap().to_string();
    let mut fields: Vec<&str> = clp.trim_end_matches('~').split('*').collect();
    fields[4] = "12X";
    let broken = text.replacen(&clp, &(fields.join("*") + "~"), 1);
    let se = broken.lines().find(|line| line.starts_with("SE*")).unwrap().to_string();
    let broken = broken.replacen(&se, "SE*99*0001~", 1);
    let groups = acknowledge(broken.as_bytes()).unwrap();
    let set = &groups[0].sets[0];
    assert_eq!(set.status, SetStatus::Rejected);
    assert!(set.syntax_errors.contains(&"4".to_string()), "{set:?}");
    let clp_error = set.segment_errors.iter().find(|error| error.segment_id == "CLP").unwrap();
    assert_eq!(clp_error.code, "8");
    assert_eq!(clp_error.element_errors[0].position, 4);
    assert_eq!(clp_error.element_errors[0].code, "7");
    let ack = write_999(&support::envelope(54), &groups[0]).unwrap();
    assert!(String::from_utf8(ack).unwrap().contains("AK9*R*1*1*0~"));

    // An 837 whose content the 837 reader refuses (a service date in a 13th month): its set is
    // rejected, the IK3 naming the DTP and the IK4 its date element with the bad value.
    let text = String::from_utf8(file).unwrap();
    let dtp = text.lines().find(|line| line.starts_with("DTP*472*")).unwrap().to_string();
    let mut fields: Vec<String> = dtp.trim_end_matches('~').split('*').map(str::to_string).collect();
    fields[3].replace_range(4..6, "13");
    let bad_date = fields[3].clone();
    let broken = text.replacen(&dtp, &(fields.join("*") + "~"), 1);
    let groups = acknowledge(broken.as_bytes()).unwrap();
    let set = &groups[0].sets[0];
    assert_eq!(set.status, SetStatus::Rejected, "{set:?}");
    let dtp_error = set.segment_errors.iter().find(|error| error.segment_id == "DTP").unwrap();
    let element = &dtp_error.element_errors[0];
    assert_eq!((element.position, element.code.as_str()), (3, "8"));
    assert_eq!(element.bad_value.as_deref(), Some(bad_date.as_str()));
    assert_eq!(groups[0].sets[1].status, SetStatus::Accepted, "the other set is clean");
    let ack = String::from_utf8(write_999(&support::envelope(55), &groups[0]).unwrap()).unwrap();
    assert!(ack.contains(&format!("IK4*3**8*{bad_date}~")), "{ack}");
}

#[test]
fn a_simulated_payer_pays_what_it_read_from_our_837() {
    use practice_protocol::codes::{Modifier, ProcedureCode};
    use practice_protocol::x12::read837::read_837;
    use practice_protocol::x12::write::{ClaimPayment, ClaimPaymentStatus, ServicePayment};
    use practice_protocol::Money;
    // Our 837 → the payer reads it → pays 80% of each line → its 835 → our 835 reader.
    let claims = [support::professional_primary("s1"), support::professional_secondary("s2")];
    let file = write_837(&support::submission(61), ClaimType::Professional, &claims).unwrap();
    let (read, diagnostics) = read_837(&file[..]).unwrap();
    assert!(diagnostics.is_empty());
    let mut remittance = support::remittance(&[]);
    remittance.claims = read
        .iter()
        .map(|claim| {
            let services: Vec<ServicePayment> = claim
                .lines
                .iter()
                .map(|line| {
                    let paid = (line.charge * Decimal::new(8, 1)).round_dp(2);
                    ServicePayment {
                        procedure: ProcedureCode::parse(&line.procedure).unwrap(),
                        modifiers: line.modifiers.iter().map(|m| Modifier::parse(m).unwrap()).collect(),
                        revenue_code: None,
                        original_procedure: None,
                        charge: Money::usd(line.charge),
                        paid: Money::usd(paid),
                        units: Some(line.units),
                        service_date: line.service_date,
                        adjustments: vec![practice_protocol::claim::Adjustment {
                            group: practice_protocol::claim::AdjustmentGroup::CO,
                            reason: "45".into(),
                            amount: Money::usd(line.charge - paid),
                            quantity: None,
                        }],
                        line_control_number: line.line_control_number.clone(),
                        allowed: Some(Money::usd(paid)),
                        remark_codes: Vec::new(),
                    }
                })
                .collect();
            let paid: Decimal = services.iter().map(|service| service.paid.amount).sum();
            ClaimPayment {
                patient_control_number: claim.patient_control_number.clone(),
                status: ClaimPaymentStatus::ProcessedAsPrimary,
                charge: Money::usd(claim.total_charge),
                paid: Money::usd(paid),
                patient_responsibility: Money::usd(Decimal::ZERO),
                filing_indicator: claim.payer.filing_indicator.clone().unwrap_or_default(),
                payer_claim_control_number: format!("SIM{}", claim.patient_control_number),
                facility_code: claim.place_of_service.clone(),
                frequency: Some("1".into()),
                patient_name: claim.subscriber.name.clone(),
                member_id: claim.subscriber.id.clone().unwrap_or_default(),
                received_date: None,
                adjustments: Vec::new(),
                services,
            }
        })
        .collect();
    remittance.provider_adjustments.clear();
    let era = write_835(&support::envelope(62), std::slice::from_ref(&remittance)).unwrap();
    let (document, diagnostics) = read_document(&era[..]).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let TransactionBody::Remittance(paid) = &document.transactions[0].body else { panic!("not an 835") };
    assert!(paid.balanced);
    // Every line comes back under the line id we sent (REF*6R in both the 837 and the 835).
    let sent: Vec<String> = claims
        .iter()
        .flat_map(|claim| claim.lines.iter().map(|line| line.id.0.simple().to_string().to_uppercase()))
        .collect();
    let returned: Vec<String> = paid
        .claims
        .iter()
        .flat_map(|claim| {
            claim
                .services
                .iter()
                .filter_map(|service| service.line_item_control_number.as_ref().map(|t| t.as_str().to_string()))
        })
        .collect();
    assert_eq!(returned, sent);
    assert_eq!(paid.payment.amount, Decimal::new(33520, 2), "80% of 209.50 twice");
}
