//! Which transaction set an inbound file holds, read from its first `ST` (ST01 and the
//! implementation guide in ST03), so each file is routed to `in.<org>.<txn>` and its reader
//! without parsing the whole interchange.

use practice_protocol::x12::SegmentReader;
use std::fmt;

/// The transaction sets connectors carry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InboundKind {
    /// 999 implementation acknowledgment (syntax).
    Ack999,
    /// 277 reply to a 276 status request.
    ClaimStatus277,
    /// 277CA claim acknowledgment (005010X214).
    ClaimAck277CA,
    /// 835 remittance advice.
    Remittance835,
    /// 837 professional (005010X222A1).
    Claim837P,
    /// 837 institutional (005010X223A2).
    Claim837I,
    /// 276 claim status request (005010X212): sent, like 837s.
    StatusRequest276,
    /// Any other set, by its ST01 (also an 837 of an unknown guide).
    Other(String),
}

impl InboundKind {
    /// The `<txn>` token of `in.<org>.<txn>` / `out.<org>.<txn>`: `[A-Za-z0-9_]+`.
    pub fn token(&self) -> String {
        match self {
            InboundKind::Ack999 => "999".into(),
            InboundKind::ClaimStatus277 => "277".into(),
            InboundKind::ClaimAck277CA => "277CA".into(),
            InboundKind::Remittance835 => "835".into(),
            InboundKind::Claim837P => "837P".into(),
            InboundKind::Claim837I => "837I".into(),
            InboundKind::StatusRequest276 => "276".into(),
            InboundKind::Other(st01) => {
                let clean: String = st01.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
                if clean.is_empty() {
                    "unknown".into()
                } else {
                    clean
                }
            }
        }
    }
}

impl InboundKind {
    /// What the practice sends: 837P, 837I and 276. Everything else only comes in.
    pub fn is_outbound(&self) -> bool {
        matches!(self, InboundKind::Claim837P | InboundKind::Claim837I | InboundKind::StatusRequest276)
    }

    /// The `<txn>` of `out.<org>.<txn>`: `837` for both claim types (the header tells them
    /// apart), `276` for status requests.
    pub fn outbound_token(&self) -> &'static str {
        match self {
            InboundKind::StatusRequest276 => "276",
            _ => "837",
        }
    }

    /// The kind a [`token`](Self::token) names, for the outbound kinds.
    pub fn from_outbound_token(token: &str) -> Option<InboundKind> {
        match token {
            "837P" => Some(InboundKind::Claim837P),
            "837I" => Some(InboundKind::Claim837I),
            "276" => Some(InboundKind::StatusRequest276),
            _ => None,
        }
    }
}

impl fmt::Display for InboundKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.token())
    }
}

/// Why bytes are not a usable interchange.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    #[error("not X12: {0}")]
    NotX12(String),
    #[error("an interchange must start with ISA, found segment {found:?}")]
    NoIsa { found: String },
    #[error("no ST segment within the first {limit} segments")]
    NoTransaction { limit: usize },
}

/// Segments read before giving up on finding `ST` (ISA, GS, ST come first in any interchange).
const SNIFF_LIMIT: usize = 8;

/// The transaction set of the first `ST` in `bytes`.
pub fn sniff(bytes: &[u8]) -> Result<InboundKind, SniffError> {
    let mut reader = SegmentReader::new(bytes);
    let mut seen = 0;
    while let Some(segment) = reader.next_segment() {
        let segment = segment.map_err(|error| SniffError::NotX12(error.to_string()))?;
        if seen == 0 && !segment.is(b"ISA") {
            return Err(SniffError::NoIsa { found: segment.id_text() });
        }
        seen += 1;
        if segment.is(b"ST") {
            let st01 = segment.text(1).unwrap_or_default().trim().to_string();
            let guide = segment.text(3).unwrap_or_default().trim().to_ascii_uppercase();
            return Ok(classify(&st01, &guide));
        }
        if seen >= SNIFF_LIMIT {
            break;
        }
    }
    if seen == 0 {
        return Err(SniffError::NotX12("no segments".into()));
    }
    Err(SniffError::NoTransaction { limit: SNIFF_LIMIT })
}

fn classify(st01: &str, guide: &str) -> InboundKind {
    match st01 {
        "999" => InboundKind::Ack999,
        "835" => InboundKind::Remittance835,
        "277" if guide.starts_with("005010X214") => InboundKind::ClaimAck277CA,
        "277" => InboundKind::ClaimStatus277,
        "837" if guide.starts_with("005010X222") => InboundKind::Claim837P,
        "837" if guide.starts_with("005010X223") => InboundKind::Claim837I,
        "276" if guide.starts_with("005010X212") => InboundKind::StatusRequest276,
        other => InboundKind::Other(other.to_string()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const ISA: &str =
        "ISA*00*          *00*          *ZZ*SIMCLEARING    *ZZ*PRACTICEOS     *261123*1200*^*00501*000000001*0*T*:~";

    /// A minimal interchange around one `ST` segment (test fixture for the connectors too).
    pub(crate) fn interchange(st: &str) -> Vec<u8> {
        format!("{ISA}\nGS*HC*A*B*20261123*1200*1*X*005010X222A1~\n{st}~\nSE*2*0001~GE*1*1~IEA*1*000000001~")
            .into_bytes()
    }

    #[test]
    fn each_set_is_recognised() {
        let cases = [
            ("ST*999*0001*005010X231A1", InboundKind::Ack999),
            ("ST*277*0001*005010X214", InboundKind::ClaimAck277CA),
            ("ST*277*0001*005010X212", InboundKind::ClaimStatus277),
            ("ST*835*0001", InboundKind::Remittance835),
            ("ST*837*0001*005010X222A1", InboundKind::Claim837P),
            ("ST*837*0001*005010X223A2", InboundKind::Claim837I),
            ("ST*837*0001", InboundKind::Other("837".into())),
            ("ST*276*0001*005010X212", InboundKind::StatusRequest276),
            ("ST*276*0001", InboundKind::Other("276".into())),
            ("ST*270*0001*005010X279A1", InboundKind::Other("270".into())),
        ];
        for (st, kind) in cases {
            assert_eq!(sniff(&interchange(st)), Ok(kind), "{st}");
        }
        assert_eq!(InboundKind::ClaimAck277CA.token(), "277CA");
        assert_eq!(InboundKind::Other("2.7/".into()).token(), "2_7_");
        assert_eq!(InboundKind::Other(String::new()).token(), "unknown");
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(matches!(sniff(b""), Err(SniffError::NotX12(_))));
        assert!(matches!(sniff(b"%PDF-1.7 binary"), Err(SniffError::NotX12(_))));
        assert!(matches!(sniff(b"ST*835*0001~SE*1*0001~"), Err(SniffError::NoIsa { .. })));
        let no_st = format!("{ISA}GS*HC*A*B*20261123*1200*1*X*005010X222A1~GE*0*1~IEA*0*000000001~");
        assert!(matches!(sniff(no_st.as_bytes()), Err(SniffError::NoTransaction { .. })));
        let error = sniff(b"ST*835*0001~").unwrap_err();
        assert_eq!(error.to_string(), "an interchange must start with ISA, found segment \"ST\"");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = sniff(&bytes);
        }
    }
}
