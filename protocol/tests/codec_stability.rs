//! The stored format does not drift: a claim's history and the state folded from it encode to
//! the bytes (and JSON) recorded in `snapshots/codec/`. Journals and snapshots written by an
//! earlier build must read back unchanged, so a change here is a format change: it needs a new
//! `FORMAT_VERSION` and a decoder for the old one, not an updated snapshot. The snapshot was
//! first written by the build before claims kept their text inline and their ids in `IdSet`.

mod claims;

use claims::*;
use expect_test::expect_file;
use practice_protocol::claim::{ClaimEvent, ClaimState, ScrubFinding, ScrubSeverity};
use practice_protocol::codec::{decode, encode};
use practice_protocol::domain::{ClaimFrequency, PersonName, Provider};
use practice_protocol::envelope::EventEnvelope;
use practice_protocol::fixtures;
use practice_protocol::ids::{CommandId, ProviderId};
use practice_protocol::shard::claim_ref;
use std::fmt::Write;
use uuid::Uuid;

fn history() -> Vec<EventEnvelope<ClaimEvent>> {
    let mut claim = claim();
    claim.referring = Some(
        Provider {
            id: ProviderId(Uuid::from_u128(0xBEEF)),
            npi: fixtures::rendering_provider().npi,
            name: PersonName { last: "REFERRER".into(), first: "ROSA".into(), middle: Some("M".into()) },
            taxonomy: Some("207Q00000X".into()),
        }
        .into(),
    );
    claim.prior_authorization = Some("AUTH-778812".into());
    let events = vec![
        ClaimEvent::Created { claim: Box::new(claim.clone()) },
        ClaimEvent::SignedOff,
        ClaimEvent::ScrubPassed {
            warnings: vec![ScrubFinding {
                severity: ScrubSeverity::Warning,
                code: "W-TIMELY".into(),
                field: "lines[1].service_date".into(),
                message: "within 30 days of the filing limit".into(),
            }],
        },
        ClaimEvent::Submitted { tracking_id: "TRK-000123".into(), frequency: ClaimFrequency::Original },
        ClaimEvent::Accepted { payer_claim_control_number: Some("PAYER-CCN-991".into()) },
        ClaimEvent::RemittancePosted { posting: Box::new(full_payment("stable")) },
        ClaimEvent::StatusRequested,
    ];
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let sequence = index as u64 + 1;
            let command = (sequence % 2 == 1).then(|| CommandId(Uuid::from_u128(0xC0DE_0000 + u128::from(sequence))));
            EventEnvelope::new(claim_ref(org(), claim.id), sequence, now(), ingestion(), command, event)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[test]
fn a_claim_history_and_its_state_encode_as_recorded() {
    let history = history();
    let mut state = ClaimState::default();
    let mut recorded = String::new();
    for envelope in &history {
        state.apply_envelope(envelope);
        let bytes = encode(envelope).unwrap();
        assert_eq!(&decode::<EventEnvelope<ClaimEvent>>(&bytes).unwrap(), envelope);
        let _ = writeln!(recorded, "event {} {}: {}", envelope.sequence, envelope.event.name(), hex(&bytes));
    }
    let institutional = fixtures::institutional_claim(org(), 2);
    let created = ClaimEvent::Created { claim: Box::new(institutional) };
    let _ = writeln!(recorded, "institutional created: {}", hex(&encode(&created).unwrap()));
    let bytes = encode(&state).unwrap();
    assert_eq!(decode::<ClaimState>(&bytes).unwrap(), state);
    let _ = writeln!(recorded, "state: {}", hex(&bytes));
    let _ = writeln!(recorded, "state json: {}", serde_json::to_string(&state).unwrap());
    expect_file!["snapshots/codec/claim_history.txt"].assert_eq(&recorded);
}
