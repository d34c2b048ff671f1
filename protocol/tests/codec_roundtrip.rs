//! Codec round trips for every event type, and hostile bytes: a truncated or corrupted
//! buffer is an error, never a panic.

mod claims;

use claims::*;
use practice_protocol::claim::{ClaimEvent, DenialNotice, RejectionSource, ScrubFinding, ScrubSeverity};
use practice_protocol::codec::{decode, encode, CodecError, FORMAT_VERSION};
use practice_protocol::domain::{ClaimFrequency, DenialCategory, RootCause};
use practice_protocol::envelope::{CommandEnvelope, EntityKind, EntityRef, EventEnvelope};
use practice_protocol::ids::CommandId;
use practice_protocol::practice::{PracticeEvent, SuspenseResolution};
use practice_protocol::remit_ledger::{ProviderAdjustment, SuspenseEntry, SuspenseSource};
use practice_protocol::shard::claim_ref;
use practice_protocol::Money;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,24}"
}

fn money() -> impl Strategy<Value = Money> {
    (any::<i64>(), 0u32..6).prop_map(|(mantissa, scale)| Money::usd(Decimal::new(mantissa, scale)))
}

fn finding() -> impl Strategy<Value = ScrubFinding> {
    (any::<bool>(), text(), text(), text()).prop_map(|(error, code, field, message)| ScrubFinding {
        severity: if error { ScrubSeverity::Error } else { ScrubSeverity::Warning },
        code,
        field,
        message,
    })
}

fn notice() -> impl Strategy<Value = DenialNotice> {
    (text(), prop::collection::vec(text(), 0..3), text(), 0u8..3).prop_map(|(code, rarcs, reason, category)| {
        DenialNotice {
            code,
            rarcs,
            reason,
            category: [DenialCategory::Clinical, DenialCategory::Administrative, DenialCategory::Technical]
                [category as usize],
            root_cause: Some(RootCause::Bundling),
            appeal_deadline: Some(now()),
        }
    })
}

/// Every `ClaimEvent` variant, with random contents.
fn event() -> impl Strategy<Value = ClaimEvent> {
    prop_oneof![
        (1u32..500).prop_map(|n| ClaimEvent::Created {
            claim: Box::new(practice_protocol::fixtures::office_visit_claim(org(), n))
        }),
        (1u32..500).prop_map(|n| ClaimEvent::Created {
            claim: Box::new(practice_protocol::fixtures::institutional_claim(org(), n))
        }),
        any::<bool>().prop_map(|voided| {
            let claim = claim();
            ClaimEvent::CodingAmended { diagnoses: claim.diagnoses, lines: claim.lines, voided_sign_off: voided }
        }),
        Just(ClaimEvent::SignedOff),
        prop::collection::vec(finding(), 0..4).prop_map(|warnings| ClaimEvent::ScrubPassed { warnings }),
        (prop::collection::vec(finding(), 1..4), prop::collection::vec(finding(), 0..3))
            .prop_map(|(errors, warnings)| ClaimEvent::ScrubFailed { errors, warnings }),
        text().prop_map(|tracking_id| ClaimEvent::Submitted { tracking_id, frequency: ClaimFrequency::Original }),
        text().prop_map(|reason| ClaimEvent::Rejected { source: RejectionSource::Syntax999, reason }),
        proptest::option::of(text()).prop_map(|pccn| ClaimEvent::Accepted { payer_claim_control_number: pccn }),
        (money(), text()).prop_map(|(paid, tag)| {
            let mut posting = full_payment(&tag);
            posting.paid = paid;
            ClaimEvent::RemittancePosted { posting: Box::new(posting) }
        }),
        text().prop_map(|tag| ClaimEvent::RemittancePosted {
            posting: Box::new(reversal_of(&partial_payment(&tag), &tag))
        }),
        notice().prop_map(|notice| ClaimEvent::Denied { notice }),
        (any::<bool>(), proptest::option::of(text()), text()).prop_map(|(corrected, pccn, note)| {
            ClaimEvent::Appealed {
                corrected_lines: corrected.then(|| claim().lines),
                payer_claim_control_number: pccn,
                note,
            }
        }),
        (money(), text()).prop_map(|(amount, reason)| ClaimEvent::WrittenOff { amount, reason }),
        text().prop_map(|reason| ClaimEvent::Voided { reason }),
        Just(ClaimEvent::StatusRequested),
        (text(), text(), proptest::option::of(money()), proptest::option::of(text())).prop_map(
            |(category, code, paid, pccn)| ClaimEvent::StatusReported {
                report: Box::new(practice_protocol::claim::PayerStatusReport {
                    category,
                    code,
                    entity: None,
                    effective_date: Some("20261130".into()),
                    charge: paid,
                    paid,
                    payer_claim_control_number: pccn,
                    message: Some("pending".into()),
                }),
            }
        ),
    ]
}

fn envelope() -> impl Strategy<Value = EventEnvelope<ClaimEvent>> {
    (event(), 1u64..u64::MAX, any::<bool>()).prop_map(|(event, sequence, with_command)| {
        EventEnvelope::new(
            claim_ref(org(), claim().id),
            sequence,
            now(),
            ingestion(),
            with_command.then(CommandId::new_v4),
            event,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_event_round_trips(envelope in envelope()) {
        let bytes = encode(&envelope).unwrap();
        prop_assert_eq!(bytes[0], FORMAT_VERSION);
        let back: EventEnvelope<ClaimEvent> = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &envelope);
        // The JSON form (the API's) round-trips too.
        let json = serde_json::to_string(&envelope).unwrap();
        let from_json: EventEnvelope<ClaimEvent> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(from_json, envelope);
    }

    #[test]
    fn every_truncation_is_an_error(envelope in envelope(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&envelope).unwrap();
        let cut = cut.index(bytes.len()); // strictly shorter than the encoding
        prop_assert!(decode::<EventEnvelope<ClaimEvent>>(&bytes[..cut]).is_err());
    }

    #[test]
    fn corrupted_bytes_never_panic(envelope in envelope(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = encode(&envelope).unwrap();
        for (position, value) in flips {
            let index = position.index(bytes.len());
            bytes[index] = value;
        }
        // Either a value or an error: the property is that we get here without a panic.
        let _ = decode::<EventEnvelope<ClaimEvent>>(&bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<EventEnvelope<ClaimEvent>>(&bytes);
        let _ = decode::<CommandEnvelope<practice_protocol::claim::ClaimCommand>>(&bytes);
    }
}

fn source() -> impl Strategy<Value = SuspenseSource> {
    prop_oneof![
        Just(SuspenseSource::Remittance835),
        Just(SuspenseSource::Acknowledgment999),
        Just(SuspenseSource::ClaimAcknowledgment277Ca),
    ]
}

/// The practice's inbound-ledger events (PLB entries, suspense items), with random contents.
fn practice_event() -> impl Strategy<Value = PracticeEvent> {
    prop_oneof![
        (text(), text(), text(), proptest::option::of(text()), money(), 0u32..400).prop_map(
            |(payer, trace_number, reason_code, reference, amount, day)| PracticeEvent::ProviderAdjustmentRecorded {
                entry: ProviderAdjustment {
                    payer,
                    trace_number,
                    provider_id: "1234567893".into(),
                    reason_code,
                    reference,
                    amount,
                    posted_on: now().date_naive() + chrono::Duration::days(i64::from(day)),
                }
            }
        ),
        (source(), proptest::option::of(text()), text(), proptest::option::of(money()), any::<bool>(), text())
            .prop_map(|(source, payer, reference, amount, with_claim, reason)| PracticeEvent::SuspenseRecorded {
                item: SuspenseEntry {
                    source,
                    payer: payer.clone(),
                    reference,
                    patient_control_number: payer,
                    payer_claim_control_number: None,
                    claim_id: with_claim.then(|| claim().id),
                    amount,
                    reason,
                }
            }),
        (any::<bool>(), text()).prop_map(|(posted, reason)| PracticeEvent::SuspenseResolved {
            item: CommandId::new_v4(),
            resolution: if posted {
                SuspenseResolution::Posted { claim_id: claim().id }
            } else {
                SuspenseResolution::Dismissed { reason }
            },
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_practice_ledger_event_round_trips(event in practice_event(), sequence in 1u64..u64::MAX) {
        let entity = EntityRef { org: org(), kind: EntityKind::Practice, id: org().0 };
        let envelope = EventEnvelope::new(entity, sequence, now(), ingestion(), Some(CommandId::new_v4()), event);
        let bytes = encode(&envelope).unwrap();
        let back: EventEnvelope<PracticeEvent> = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &envelope);
        let cut = bytes.len() / 2;
        prop_assert!(decode::<EventEnvelope<PracticeEvent>>(&bytes[..cut]).is_err());
        let json = serde_json::to_string(&envelope).unwrap();
        let from_json: EventEnvelope<PracticeEvent> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(from_json, envelope);
    }
}

#[test]
fn version_byte_and_trailing_bytes_are_checked() {
    assert!(matches!(decode::<u32>(&[]), Err(CodecError::Empty)));
    assert!(matches!(decode::<u32>(&[0, 1]), Err(CodecError::UnknownVersion(0))));
    let mut bytes = encode(&7u32).unwrap();
    bytes.push(0);
    assert!(matches!(decode::<u32>(&bytes), Err(CodecError::TrailingBytes(1))));
}

#[test]
fn a_huge_length_prefix_is_refused_without_allocating_it() {
    // Format byte, then a varint length of ~2^62 for a Vec<u8>.
    let bytes = [FORMAT_VERSION, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F];
    assert!(decode::<Vec<u8>>(&bytes).is_err());
}
