//! Property tests: the writers never panic on any field content (they write or return a typed
//! error), and whatever they write reads back to the same claim content; the 837 reader never
//! panics on mutated files.

mod support;

use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::x12::read837::{read_837, Claim837};
use practice_protocol::x12::write::{write_837, X12WriteError};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn claim_with(
    name: &str,
    street: &str,
    member: &str,
    cents: &[i64],
    units: &[u32],
    institutional: bool,
    secondary: bool,
) -> Claim {
    let mut claim = match (institutional, secondary) {
        (false, false) => support::professional_primary("prop"),
        (false, true) => support::professional_secondary("prop"),
        (true, false) => support::institutional_primary("prop"),
        (true, true) => support::institutional_secondary("prop"),
    };
    let billed = claim.coverages.iter().position(|c| c.order == claim.responsibility).unwrap();
    claim.coverages[billed].subscriber.name.last = name.into();
    for coverage in &mut claim.coverages {
        coverage.subscriber.address.line1 = street.into();
        coverage.subscriber.member_id = member.into();
    }
    for prior in &mut claim.prior_adjudications {
        prior.subscriber.address.line1 = street.into();
        prior.subscriber.member_id = member.into();
    }
    for (line, (cents, units)) in claim.lines.iter_mut().zip(cents.iter().zip(units)) {
        line.charge.amount = Decimal::new(*cents, 2);
        line.units = Decimal::from(*units);
    }
    claim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_text_writes_or_fails_cleanly(
        name in "\\PC{0,70}",
        street in "[ -~]{1,60}",
        member in "[ -~]{1,20}",
        cents in proptest::collection::vec(0i64..10_000_000, 2),
        units in proptest::collection::vec(1u32..500, 2),
        institutional in any::<bool>(),
        secondary in any::<bool>(),
    ) {
        let claim = claim_with(&name, &street, &member, &cents, &units, institutional, secondary);
        let claim_type = if institutional { ClaimType::Institutional } else { ClaimType::Professional };
        match write_837(&support::submission(1), claim_type, std::slice::from_ref(&claim)) {
            Ok(bytes) => {
                let (read, _) = read_837(&bytes[..]).unwrap();
                prop_assert_eq!(read.len(), 1);
                prop_assert_eq!(read[0].total_charge, claim.total_charge().amount);
            }
            Err(X12WriteError::InClaim { source, .. })
                if matches!(*source, X12WriteError::BadCharacter { .. } | X12WriteError::MissingValue { .. }) => {}
            Err(X12WriteError::InvalidClaim { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn clean_text_round_trips_exactly(
        name in "[A-Z][A-Z' -]{0,30}[A-Z]",
        street in "[0-9]{1,5} [A-Z][A-Z ]{0,30}[A-Z]",
        member in "[A-Z0-9]{1,20}",
        cents in proptest::collection::vec(0i64..10_000_000, 2),
        units in proptest::collection::vec(1u32..500, 2),
        institutional in any::<bool>(),
        secondary in any::<bool>(),
    ) {
        let claim = claim_with(&name, &street, &member, &cents, &units, institutional, secondary);
        let claim_type = if institutional { ClaimType::Institutional } else { ClaimType::Professional };
        let bytes = write_837(&support::submission(1), claim_type, std::slice::from_ref(&claim)).unwrap();
        let (read, diagnostics) = read_837(&bytes[..]).unwrap();
        prop_assert!(diagnostics.is_empty(), "{:?}", diagnostics);
        prop_assert_eq!(&read[0], &Claim837::carried_by(&claim).unwrap());
    }

    #[test]
    fn the_reader_never_panics_on_mutated_files(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let claims = [support::professional_secondary("m1"), support::professional_dependent("m2")];
        let mut bytes = write_837(&support::submission(1), ClaimType::Professional, &claims).unwrap();
        for (index, byte) in flips {
            let at = index.index(bytes.len());
            bytes[at] = byte;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(1));
        let _ = read_837(&bytes[..]);
    }
}
