//! 837 interchanges from claims: one per (payer, claim type), the way clearinghouses route
//! them; and 276 status requests about claims sent. Pure: the demo's outbox, the node's
//! exchange and the simulator's tests write through here.

use chrono::{NaiveDate, NaiveTime};
use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::x12::write::claim837::{write_837, Receiver, Submission837, Submitter};
use practice_protocol::x12::write::envelope::{Envelope, GroupHeader, InterchangeHeader, Usage};
use practice_protocol::x12::write::{write_276, Delimiters, StatusInquiry, StatusRequest, X12WriteError};
use std::collections::BTreeMap;

/// Who the interchanges are from and to (ISA06/08, GS02/03, loops 1000A/B).
#[derive(Clone, Debug)]
pub struct Parties {
    pub sender_id: String,
    /// The practice as the information receiver of 276/277 (NM1*41).
    pub sender_name: String,
    pub receiver_id: String,
    pub receiver_name: String,
    /// ISA15: `T` until a clearinghouse has certified the practice for production.
    pub usage: Usage,
}

impl Default for Parties {
    fn default() -> Self {
        Parties {
            sender_id: "PRACTICEOS".into(),
            sender_name: "PRACTICE OS".into(),
            receiver_id: "SIMCLEARING".into(),
            receiver_name: "SIM CLEARINGHOUSE".into(),
            usage: Usage::Test,
        }
    }
}

/// The id of the payer a claim bills ("" when it has no coverage to bill).
pub fn payer_key(claim: &Claim) -> String {
    claim.coverage().map(|coverage| coverage.payer.payer_id.to_string()).unwrap_or_default()
}

/// Claims grouped per (payer id, institutional), each group in the order given.
pub fn by_payer_and_type(claims: Vec<Claim>) -> BTreeMap<(String, bool), Vec<Claim>> {
    let mut groups: BTreeMap<(String, bool), Vec<Claim>> = BTreeMap::new();
    for claim in claims {
        let payer = payer_key(&claim);
        let institutional = claim.claim_type == ClaimType::Institutional;
        groups.entry((payer, institutional)).or_default().push(claim);
    }
    groups
}

/// ISA/GS from the practice to its clearinghouse on `day`, ISA13 = GS06 = `control`.
fn envelope(parties: &Parties, day: NaiveDate, control: u32) -> Envelope {
    Envelope {
        interchange: InterchangeHeader {
            sender_qualifier: "ZZ".into(),
            sender_id: parties.sender_id.clone(),
            receiver_qualifier: "ZZ".into(),
            receiver_id: parties.receiver_id.clone(),
            date: day,
            time: NaiveTime::MIN,
            control_number: control,
            usage: parties.usage,
            acknowledgment_requested: false,
        },
        group: GroupHeader {
            application_sender: parties.sender_id.clone(),
            application_receiver: parties.receiver_id.clone(),
            control_number: control,
        },
        delimiters: Delimiters { newline: true, ..Delimiters::default() },
    }
}

/// One interchange with one functional group, ISA13 = GS06 = `control`. `claims` share one
/// claim type and must not be empty.
pub fn write_interchange(
    parties: &Parties,
    claim_type: ClaimType,
    claims: &[Claim],
    day: NaiveDate,
    control: u32,
) -> Result<Vec<u8>, X12WriteError> {
    let Some(first) = claims.first() else {
        return Err(X12WriteError::Empty { what: "an 837 needs at least one claim" });
    };
    let submission = Submission837 {
        envelope: envelope(parties, day, control),
        submitter: Submitter {
            name: first.billing.name.to_string(),
            id: parties.sender_id.clone(),
            contact_name: first.billing.contact_name.to_string(),
            contact_phone: first.billing.contact_phone.to_string(),
        },
        receiver: Receiver { name: parties.receiver_name.clone(), id: parties.receiver_id.clone() },
        batch_reference: control.to_string(),
    };
    write_837(&submission, claim_type, claims)
}

/// A claim to ask about: TRN02 is its CLM01, which the payer's 277 echoes and the 277 reader
/// finds the claim by; REF*1K once the payer has numbered it.
pub fn inquiry(claim: &Claim, payer_claim_control_number: Option<String>) -> StatusInquiry<'_> {
    StatusInquiry { claim, trace_number: claim.patient_control_number.to_string(), payer_claim_control_number }
}

/// One 276 interchange asking about `inquiries` (one transaction set per payer and billing
/// provider), ISA13 = GS06 = `control`; BHT03 is the control number, so a 277 names the
/// request it answers.
pub fn write_status_request(
    parties: &Parties,
    inquiries: &[StatusInquiry<'_>],
    day: NaiveDate,
    control: u32,
) -> Result<Vec<u8>, X12WriteError> {
    let request = StatusRequest {
        reference: control.to_string(),
        receiver_name: parties.sender_name.clone(),
        receiver_id: parties.sender_id.clone(),
    };
    write_276(&envelope(parties, day, control), &request, inquiries)
}
