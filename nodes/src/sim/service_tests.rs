//! `SimService` on an interchange of two functional groups: each group is its own batch to the
//! clearinghouse, answered by its own 999 — one accepted, one rejected by the payer's
//! front end — and each group's claims are adjudicated (or returned) on their own.

use super::generate::generate_claims;
use super::profile::demo_payers;
use super::service::{SimService, Taken};
use super::Rate;
use crate::connector::batch::{write_interchange, Parties};
use chrono::NaiveDate;
use practice_protocol::domain::{Claim, ClaimType};

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

/// One interchange holding the functional groups of `first` and `second` (both written with
/// newline-terminated segments): `first` without its IEA, `second`'s GS…GE, a new IEA.
fn two_groups(first: &[u8], second: &[u8]) -> Vec<u8> {
    let first = String::from_utf8(first.to_vec()).unwrap();
    let second = String::from_utf8(second.to_vec()).unwrap();
    let isa13 = first.lines().next().unwrap().split('*').nth(13).unwrap().to_string();
    let mut text: String = first.lines().filter(|line| !line.starts_with("IEA")).map(|l| format!("{l}\n")).collect();
    let group = second.lines().skip_while(|line| !line.starts_with("GS")).take_while(|line| !line.starts_with("IEA"));
    text.extend(group.map(|line| format!("{line}\n")));
    text.push_str(&format!("IEA*2*{isa13}~\n"));
    text.into_bytes()
}

fn professional_claims_of(claims: &[Claim], payer: &str, count: usize) -> Vec<Claim> {
    let of_payer = |claim: &&Claim| {
        claim.claim_type == ClaimType::Professional
            && claim.coverages.len() == 1
            && claim.coverages[0].payer.payer_id.as_str() == payer
    };
    let found: Vec<Claim> = claims.iter().filter(of_payer).take(count).cloned().collect();
    assert_eq!(found.len(), count, "not enough claims for {payer}");
    found
}

#[test]
fn each_functional_group_of_an_interchange_gets_its_own_999() {
    let mut payers = demo_payers();
    for payer in &mut payers {
        let rejects = payer.payer_id.as_str() == "60054";
        payer.params.p_999_group_reject = Rate::from_ppm(if rejects { 1_000_000 } else { 0 });
    }
    let claims = generate_claims(5, 0, 200, &payers, start() - chrono::Duration::days(10), 10).unwrap();
    let accepted = professional_claims_of(&claims, "87726", 3);
    let rejected = professional_claims_of(&claims, "60054", 2);
    let parties = Parties::default();
    let first = write_interchange(&parties, ClaimType::Professional, &accepted, start(), 41).unwrap();
    let second = write_interchange(&parties, ClaimType::Professional, &rejected, start(), 42).unwrap();
    let interchange = two_groups(&first, &second);

    let dir = tempfile::tempdir().unwrap();
    let org = accepted[0].org;
    let mut service = SimService::open(dir.path(), org, 5, Some(start()), start(), payers).unwrap();
    let taken = service.receive("000000041.837P.x12", &interchange).unwrap();
    assert_eq!(taken, Taken::Received { batch_id: "000000041".into(), claims: 5, rejected: None });

    let answers = service.advance_to(start() + chrono::Duration::days(90)).unwrap();
    let acks: Vec<String> = answers
        .iter()
        .filter(|answer| answer.name.ends_with(".999.x12"))
        .map(|answer| String::from_utf8(answer.bytes.clone()).unwrap())
        .collect();
    assert_eq!(acks.len(), 2, "one 999 per functional group: {acks:#?}");
    let ack_of = |group: &str| {
        acks.iter()
            .find(|ack| ack.contains(&format!("AK1*HC*{group}*")))
            .unwrap_or_else(|| panic!("no 999 for {group}"))
    };
    assert!(ack_of("41").contains("AK9*A"), "{}", ack_of("41"));
    assert!(ack_of("42").contains("AK9*R"), "{}", ack_of("42"));
    // The rejection names the fault the front end found: the first service date, a 13th month.
    assert!(ack_of("42").contains("IK3*DTP*"), "{}", ack_of("42"));
    assert!(ack_of("42").contains("IK4*3**8*2026"), "no IK4 with the bad date: {}", ack_of("42"));
    assert!(!ack_of("41").contains("IK3"), "{}", ack_of("41"));

    // The accepted group's claims go on to the payer; the rejected group's never reach it.
    let truth = service.simulator().truth();
    let pcns = service.truth_json();
    for claim in &accepted {
        let entry = &pcns["claims"][claim.patient_control_number.as_str()];
        assert_eq!(entry["adjudicated"], 1, "{entry}");
    }
    for claim in &rejected {
        let entry = &pcns["claims"][claim.patient_control_number.as_str()];
        assert_eq!(entry["adjudicated"], 0, "{entry}");
        // Rejected as the group's own batch, not the interchange's.
        assert!(entry["submissions"].to_string().contains("\"000000041-42\""), "{entry}");
    }
    assert!(truth.rejected_batches.is_empty(), "both groups were readable");
}
