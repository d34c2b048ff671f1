//! The claim status loop through our own readers: the 276s we write read back field for field
//! (what a payer simulator sees), the 277s the simulator writes read back as claim statuses
//! under the right HL levels, and a malformed 276 is reported where it is wrong.

mod support;

use practice_protocol::domain::{Claim, PersonName};
use practice_protocol::x12::read::remit::{Dated, Name};
use practice_protocol::x12::read::request::{ClaimInquiry, StatusRequest276};
use practice_protocol::x12::read::{Text, TransactionBody};
use practice_protocol::x12::write::{write_276, write_277, StatusInquiry, StatusRequest, X12WriteError};
use practice_protocol::x12::{read_document, DiagnosticKind};

fn text(value: &str) -> Option<Text> {
    Some(Text::from(value))
}

fn organization(entity: &str, name: &str, qualifier: &str, id: &str) -> Option<Name> {
    Some(Name {
        entity: entity.into(),
        last_or_organization: text(name),
        id_qualifier: text(qualifier),
        id: text(id),
        ..Name::default()
    })
}

fn person(entity: &str, name: &PersonName, id: Option<&str>) -> Option<Name> {
    Some(Name {
        entity: entity.into(),
        last_or_organization: text(&name.last),
        first: text(&name.first),
        middle: name.middle.as_deref().and_then(text),
        id_qualifier: id.and(text("MI")),
        id: id.and_then(text),
        ..Name::default()
    })
}

/// What the reader must give back for `inquiry`, written under HL `hl_id`.
fn expected_inquiry(hl_id: &str, inquiry: &StatusInquiry<'_>, bill_type: Option<&str>, dates: &str) -> ClaimInquiry {
    let claim = inquiry.claim;
    let coverage = claim.coverage().unwrap();
    let dependent = coverage.relationship != practice_protocol::domain::Relationship::SelfInsured;
    ClaimInquiry {
        hl_id: hl_id.into(),
        subscriber: person("IL", &coverage.subscriber.name, Some(&coverage.subscriber.member_id)),
        patient: if dependent { person("QC", &claim.patient.name, None) } else { None },
        trace_number: text(&inquiry.trace_number),
        payer_claim_control_number: inquiry.payer_claim_control_number.as_deref().and_then(text),
        patient_account_number: text(&claim.patient_control_number),
        bill_type: bill_type.and_then(text),
        charge: Some(claim.total_charge().amount),
        service_dates: Some(Dated { qualifier: "472".into(), date: dates.into() }),
    }
}

fn inquiry<'a>(claim: &'a Claim, trace: &str, payer_number: Option<&str>) -> StatusInquiry<'a> {
    StatusInquiry { claim, trace_number: trace.into(), payer_claim_control_number: payer_number.map(Into::into) }
}

fn requests(bytes: &[u8]) -> Vec<StatusRequest276> {
    let (document, diagnostics) = read_document(bytes).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    document
        .transactions
        .into_iter()
        .map(|transaction| match transaction.body {
            TransactionBody::StatusRequest(request) => *request,
            other => panic!("not a 276: {other:?}"),
        })
        .collect()
}

#[test]
fn status_requests_276_read_back_field_for_field() {
    let professional = support::professional_primary("s1");
    let dependent = support::professional_dependent("s2");
    let mut institutional = support::institutional_primary("s3");
    institutional.lines[1].service_date = support::date("2026-11-04");
    // Another payer: a second transaction set.
    let mut institutional_dependent = support::institutional_primary("s4");
    institutional_dependent.patient = dependent.patient.clone();
    institutional_dependent.coverages = dependent.coverages.clone();
    institutional_dependent.coverages[0].payer.payer_id = practice_protocol::ids::PayerId::parse("60054").unwrap();
    institutional_dependent.coverages[0].payer.name = "AETNA HEALTH".into();
    let claims = [professional, dependent, institutional, institutional_dependent];
    let inquiries = [
        inquiry(&claims[0], "TRACE1", None),
        inquiry(&claims[1], "TRACE2", Some("PAYERCLM2")),
        inquiry(&claims[2], "TRACE3", Some("PAYERCLM3")),
        inquiry(&claims[3], "TRACE4", None),
    ];
    let request =
        StatusRequest { reference: "REQ0001".into(), receiver_name: "LAKESIDE".into(), receiver_id: "LFM0001".into() };
    let bytes = write_276(&support::envelope(61), &request, &inquiries).unwrap();
    let read = requests(&bytes);
    assert_eq!(read.len(), 2, "one set per payer");
    let billing = &inquiries[0].claim.billing;
    let provider = organization("1P", &billing.name, "XX", billing.npi.as_str());
    let receiver = organization("41", "LAKESIDE", "46", "LFM0001");
    let first = StatusRequest276 {
        reference: text("REQ0001"),
        payer: organization("PR", "UNITED HEALTH PLAN", "PI", "87726"),
        receiver: receiver.clone(),
        provider: provider.clone(),
        inquiries: vec![
            expected_inquiry("4", &inquiries[0], None, "20261102"),
            expected_inquiry("6", &inquiries[1], None, "20261102"),
            expected_inquiry("7", &inquiries[2], Some("131"), "20261102-20261104"),
        ],
    };
    assert_eq!(read[0], first);
    let second = StatusRequest276 {
        reference: text("REQ0001"),
        payer: organization("PR", "AETNA HEALTH", "PI", "60054"),
        receiver,
        provider,
        inquiries: vec![expected_inquiry("5", &inquiries[3], Some("131"), "20261102")],
    };
    assert_eq!(read[1], second);
}

#[test]
fn status_request_276_json_shape() {
    let claim = support::professional_dependent("j1");
    let inquiry = StatusInquiry { claim: &claim, trace_number: "T1".into(), payer_claim_control_number: None };
    let request =
        StatusRequest { reference: "R1".into(), receiver_name: "LAKESIDE".into(), receiver_id: "LFM1".into() };
    let bytes = write_276(&support::envelope(62), &request, &[inquiry]).unwrap();
    let (document, _) = read_document(&bytes[..]).unwrap();
    let json = serde_json::to_value(&document.transactions[0]).unwrap();
    assert_eq!(json["type"], "276");
    assert_eq!(json["payer"]["id"], "87726");
    let inquiry = &json["inquiries"][0];
    assert_eq!(inquiry["hl_id"], "5");
    assert_eq!(inquiry["patient"]["first"], "LUCAS");
    assert_eq!(inquiry["charge"], "185");
    assert_eq!(inquiry["service_dates"]["date"], "20261102");
    assert!(inquiry.get("payer_claim_control_number").is_none(), "absent fields are left out: {inquiry}");
}

#[test]
fn status_responses_277_read_back_as_claim_statuses() {
    let primary = support::professional_primary("r1");
    let finalized = support::institutional_primary("r2");
    let dependent = support::professional_dependent("r3");
    let answers = vec![
        support::status_answer(&primary, "TRACE1", ("P1", "20", None), None),
        support::status_answer(&finalized, "TRACE2", ("", "", None), Some("512.00")),
        support::status_answer(&dependent, "TRACE3", ("P3", "317", Some("1P")), None),
    ];
    let response = support::status_response(answers.clone());
    let bytes = write_277(&support::envelope(63), std::slice::from_ref(&response)).unwrap();
    let (document, diagnostics) = read_document(&bytes[..]).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    assert_eq!(document.transactions[0].envelope.version.as_deref(), Some("005010X212"));
    let TransactionBody::ClaimStatus(report) = &document.transactions[0].body else { panic!("not an X212 277") };
    assert_eq!(report.reference.as_deref(), Some("STATUS0001"));
    assert_eq!(report.claims.len(), 3);
    for (claim, answer) in report.claims.iter().zip(&answers) {
        assert_eq!(claim.trace_number.as_deref(), Some(answer.trace_number.as_str()));
        assert_eq!(claim.statuses.len(), 1);
        let status = &claim.statuses[0];
        assert_eq!(status.category, answer.status.category.as_str());
        assert_eq!(status.code, answer.status.code.as_str());
        assert_eq!(status.entity.as_deref(), answer.status.entity.as_deref());
        assert_eq!(status.effective_date.as_deref(), Some("20261120"));
        assert_eq!(status.charge, Some(answer.charge.amount));
        assert_eq!(status.paid, answer.paid.map(|paid| paid.amount));
        assert_eq!(status.action, None, "STC03 is not used in X212");
        assert_eq!(claim.payer_claim_control_number.as_deref(), answer.payer_claim_control_number.as_deref(), "REF*1K");
        assert_eq!(claim.patient_account_number.as_deref(), Some(answer.patient_control_number.as_str()), "REF*EJ");
    }
    let paid = &report.claims[1].statuses[0];
    assert_eq!(paid.payment_date.as_deref(), Some("20261118"));
    assert_eq!(paid.check_date.as_deref(), Some("20261120"));
    assert_eq!(paid.check_number.as_deref(), Some("CHK0001234"));
    assert_eq!(report.claims[1].dates, [Dated { qualifier: "472".into(), date: "20261102".into() }]);
    // HL: 1 payer, 2 receiver, 3 provider, 4 and 5 subscribers, 6 the dependent's subscriber,
    // 7 the dependent, under which its claim sits.
    let levels: Vec<(&str, Option<&str>, &str)> = report
        .levels
        .iter()
        .map(|level| (level.hl_id.as_str(), level.parent_id.as_deref(), level.level_code.as_str()))
        .collect();
    assert_eq!(
        levels,
        [
            ("1", None, "20"),
            ("2", Some("1"), "21"),
            ("3", Some("2"), "19"),
            ("4", Some("3"), "22"),
            ("5", Some("3"), "22"),
            ("6", Some("3"), "22"),
            ("7", Some("6"), "23"),
        ]
    );
    let hl_ids: Vec<&str> = report.claims.iter().map(|claim| claim.hl_id.as_str()).collect();
    assert_eq!(hl_ids, ["4", "5", "7"]);
    let patient = report.claims[2].patient.as_ref().unwrap();
    assert_eq!((patient.entity.as_str(), patient.first.as_deref()), ("QC", Some("LUCAS")));
    let subscriber = report.levels[5].name.as_ref().unwrap();
    assert_eq!((subscriber.entity.as_str(), subscriber.id.as_deref()), ("IL", Some("U1234567801")));
}

#[test]
fn status_response_277_refuses_empty_input() {
    let envelope = support::envelope(64);
    assert!(matches!(write_277(&envelope, &[]), Err(X12WriteError::Empty { .. })));
    let without_claims = support::status_response(Vec::new());
    assert!(matches!(write_277(&envelope, &[without_claims]), Err(X12WriteError::Empty { .. })));
}

#[test]
fn status_response_277_names_the_claim_with_a_missing_value() {
    let claim = support::professional_primary("m1");
    let mut answer = support::status_answer(&claim, "TRACE1", ("P1", "20", None), None);
    answer.member_id = String::new();
    let good = support::status_answer(&claim, "TRACE0", ("P1", "20", None), None);
    let error = write_277(&support::envelope(65), &[support::status_response(vec![good, answer])]).unwrap_err();
    assert_eq!(error.to_string(), "claim 1 (PCNM1): NM109: a required value is empty");
    let mut backwards = support::status_answer(&claim, "TRACE1", ("P1", "20", None), None);
    backwards.service_from = support::date("2026-11-05");
    let error = write_277(&support::envelope(66), &[support::status_response(vec![backwards])]).unwrap_err();
    assert!(matches!(error, X12WriteError::Inconsistent { .. }), "{error}");
}

#[test]
fn a_malformed_276_amount_is_reported_at_its_element() {
    let claim = support::professional_primary("b1");
    let inquiry = StatusInquiry { claim: &claim, trace_number: "T1".into(), payer_claim_control_number: None };
    let request =
        StatusRequest { reference: "R1".into(), receiver_name: "LAKESIDE".into(), receiver_id: "LFM1".into() };
    let text = String::from_utf8(write_276(&support::envelope(67), &request, &[inquiry]).unwrap()).unwrap();
    assert!(text.contains("AMT*T3*209.5~"), "{text}");
    let broken = text.replace("AMT*T3*209.5~", "AMT*T3*12X~");
    let (document, diagnostics) = read_document(broken.as_bytes()).unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let diagnostic = &diagnostics[0];
    assert_eq!((diagnostic.position.segment_id.as_str(), diagnostic.position.element), ("AMT", Some(2)));
    assert!(
        matches!(&diagnostic.kind, DiagnosticKind::InvalidElement { found, .. } if found == "12X"),
        "{diagnostic:?}"
    );
    assert!(diagnostic.to_string().contains("(AMT02)"), "{diagnostic}");
    // The rest of the claim is still read.
    let TransactionBody::StatusRequest(request) = &document.transactions[0].body else { panic!("not a 276") };
    assert_eq!(request.inquiries[0].charge, None);
    assert_eq!(request.inquiries[0].patient_account_number.as_deref(), Some("PCNB1"));
}

#[test]
fn a_276_segment_outside_a_claim_is_reported() {
    let claim = support::professional_primary("o1");
    let inquiry = StatusInquiry { claim: &claim, trace_number: "T1".into(), payer_claim_control_number: None };
    let request =
        StatusRequest { reference: "R1".into(), receiver_name: "LAKESIDE".into(), receiver_id: "LFM1".into() };
    let text = String::from_utf8(write_276(&support::envelope(68), &request, &[inquiry]).unwrap()).unwrap();
    // TRN at the provider level instead of the subscriber's: the claim's REF/AMT/DTP have no claim.
    let trn = text.lines().find(|line| line.starts_with("TRN*")).unwrap().to_string();
    let moved =
        text.replacen(&format!("{trn}\n"), "", 1).replacen("HL*4*3*22*0~\n", &format!("{trn}\nHL*4*3*22*0~\n"), 1);
    let (_, diagnostics) = read_document(moved.as_bytes()).unwrap();
    let found: Vec<&str> = diagnostics.iter().map(|diagnostic| diagnostic.position.segment_id.as_str()).collect();
    assert_eq!(found, ["TRN", "REF", "AMT", "DTP"], "{diagnostics:#?}");
}
