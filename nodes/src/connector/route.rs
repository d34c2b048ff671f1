//! Payer routing between two clearinghouses. Most payers are reached through the practice's
//! clearinghouse; some only through another one (a direct-connect payer, such as a BCBS plan
//! that requires Availity). A routes file names that other clearinghouse and the payers that
//! go through it:
//!
//! ```json
//! { "receiver_id": "AVAILITY", "receiver_name": "AVAILITY LLC", "payers": ["60054", "BCBSIL"] }
//! ```
//!
//! The exchange addresses those payers' 837s and 276s to it (ISA08/GS03, loop 1000B), and
//! [`Routed`] carries each interchange over the link its payer routes to, deciding by the payer
//! the interchange itself names (NM109 of its first `NM1*PR`), and takes answers from both.

use super::link::Link;
use super::{Clearinghouse, ConnectorError, Delivery, Inbound, OutboundBatch, Settlement};
use practice_protocol::ids::PayerId;
use practice_protocol::x12::SegmentReader;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// The payers that go through the other clearinghouse, and how to address it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayerRoutes {
    /// ISA08/GS03 of interchanges for it: 1 to 15 characters.
    pub receiver_id: String,
    /// Loop 1000B of 837s for it.
    pub receiver_name: String,
    /// Payer ids (NM109 of loop 2010BB), at least one.
    pub payers: BTreeSet<PayerId>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("payer routes {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("payer routes {path}: at {at}: {message}")]
    Invalid { path: String, at: String, message: String },
}

impl PayerRoutes {
    pub fn load(path: &Path) -> Result<PayerRoutes, RouteError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| RouteError::Read { path: shown.clone(), source })?;
        PayerRoutes::parse(&bytes, &shown)
    }

    /// Parse and check a routes file; an error names the file and the field.
    pub fn parse(bytes: &[u8], path: &str) -> Result<PayerRoutes, RouteError> {
        let invalid = |at: &str, message: String| RouteError::Invalid { path: path.into(), at: at.into(), message };
        let mut json = serde_json::Deserializer::from_slice(bytes);
        let routes: PayerRoutes = serde_path_to_error::deserialize(&mut json)
            .map_err(|error| invalid(&error.path().to_string(), error.inner().to_string()))?;
        let id_ok = (1..=15).contains(&routes.receiver_id.len())
            && routes.receiver_id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b' ');
        if !id_ok {
            return Err(invalid("receiver_id", format!("{:?} is not 1 to 15 letters or digits", routes.receiver_id)));
        }
        if routes.receiver_name.trim().is_empty() {
            return Err(invalid("receiver_name", "missing".into()));
        }
        if routes.payers.is_empty() {
            return Err(invalid("payers", "names no payer".into()));
        }
        Ok(routes)
    }

    /// Whether `payer`'s interchanges go through the other clearinghouse.
    pub fn routes(&self, payer: &str) -> bool {
        self.payers.iter().any(|routed| routed.as_str() == payer)
    }
}

/// The payer an interchange is for: NM109 of its first `NM1*PR` (loop 2010BB of an 837, 2100A
/// of a 276). `None` for bytes that name none or do not read as X12.
pub fn payer_of(bytes: &[u8]) -> Option<String> {
    let mut reader = SegmentReader::new(bytes);
    while let Some(segment) = reader.next_segment() {
        let segment = segment.ok()?;
        if segment.is(b"NM1") && segment.text(1) == Some("PR") {
            return segment.text(9).map(str::to_string);
        }
    }
    None
}

/// Two links, each payer's interchanges over the one its route names.
pub struct Routed {
    first: Link,
    second: Link,
    routes: Arc<PayerRoutes>,
}

/// Which link an inbound item came from, so it is settled there.
pub enum RoutedReceipt {
    First(<Link as Clearinghouse>::Receipt),
    Second(<Link as Clearinghouse>::Receipt),
}

impl Routed {
    /// `first` for every payer but those of `routes`, which go over `second`.
    pub fn new(first: Link, second: Link, routes: Arc<PayerRoutes>) -> Routed {
        Routed { first, second, routes }
    }
}

impl Clearinghouse for Routed {
    type Receipt = RoutedReceipt;

    async fn send(&self, batch: &OutboundBatch) -> Result<Delivery, ConnectorError> {
        match payer_of(&batch.bytes) {
            Some(payer) if self.routes.routes(&payer) => self.second.send(batch).await,
            _ => self.first.send(batch).await,
        }
    }

    /// The smaller of the two links' limits: a batch is split before its link is chosen.
    fn max_batch_bytes(&self) -> Option<usize> {
        match (self.first.max_batch_bytes(), self.second.max_batch_bytes()) {
            (Some(first), Some(second)) => Some(first.min(second)),
            (first, second) => first.or(second),
        }
    }

    /// Half of `max` from the first link, the rest from the second: neither starves the other.
    async fn receive(&self, max: usize) -> Result<Vec<Inbound<RoutedReceipt>>, ConnectorError> {
        let first = self.first.receive(max.div_ceil(2)).await?;
        let second = self.second.receive(max - first.len()).await?;
        let first = first.into_iter().map(|item| item.map_receipt(RoutedReceipt::First));
        let second = second.into_iter().map(|item| item.map_receipt(RoutedReceipt::Second));
        Ok(first.chain(second).collect())
    }

    async fn settle(&self, receipt: RoutedReceipt, settlement: Settlement) -> Result<(), ConnectorError> {
        match receipt {
            RoutedReceipt::First(receipt) => self.first.settle(receipt, settlement).await,
            RoutedReceipt::Second(receipt) => self.second.settle(receipt, settlement).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::file_drop::FileDrop;
    use super::super::sniff::tests::interchange;
    use super::super::InboundKind;
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;

    fn routes() -> PayerRoutes {
        PayerRoutes::parse(br#"{"receiver_id":"AVAILITY","receiver_name":"AVAILITY LLC","payers":["60054"]}"#, "r.json")
            .unwrap()
    }

    #[test]
    fn a_routes_file_is_checked_and_its_errors_say_where() {
        assert!(routes().routes("60054") && !routes().routes("87726"));
        let cases: [(&[u8], &str); 4] = [
            (br#"{"receiver_id":"A","receiver_name":"A","payers":[]}"#, "at payers: names no payer"),
            (br#"{"receiver_id":"A","receiver_name":"A","payers":[""]}"#, "at payers[0]"),
            (br#"{"receiver_id":"","receiver_name":"A","payers":["X"]}"#, "at receiver_id"),
            (br#"{"receiver_id":"A","receiver_name":"A","payers":["X"],"via":1}"#, "unknown field `via`"),
        ];
        for (bytes, expected) in cases {
            let error = PayerRoutes::parse(bytes, "r.json").unwrap_err().to_string();
            assert!(error.starts_with("payer routes r.json: ") && error.contains(expected), "{error}");
        }
    }

    #[test]
    fn the_payer_is_read_from_the_interchange() {
        let body = interchange("ST*837*0001*005010X222A1~NM1*40*2*SIM*****46*SIMCLEARING~NM1*PR*2*BLUEBONNET*****PI*60054~NM1*PR*2*OTHER*****PI*99999");
        assert_eq!(payer_of(&body).as_deref(), Some("60054"));
        assert_eq!(payer_of(&interchange("ST*999*0001")), None);
        assert_eq!(payer_of(b"not x12"), None);
    }

    #[tokio::test]
    async fn each_payer_goes_over_its_link_and_answers_come_from_both() {
        let dir = tempfile::tempdir().unwrap();
        let link = |name: &str| {
            let root = dir.path().join(name);
            FileDrop::open(root.join("out"), root.join("in"), Duration::ZERO).unwrap()
        };
        let (first, second) = (link("first"), link("second"));
        let routed = Routed::new(Link::FileDrop(first.clone()), Link::FileDrop(second.clone()), Arc::new(routes()));
        let batch = |id: &str, payer: &str| OutboundBatch {
            id: id.into(),
            kind: InboundKind::Claim837P,
            bytes: Bytes::from(interchange(&format!("ST*837*0001*005010X222A1~NM1*PR*2*PAYER*****PI*{payer}"))),
        };
        let routed_to = routed.send(&batch("000000001", "60054")).await.unwrap().location;
        let default_to = routed.send(&batch("000000002", "87726")).await.unwrap().location;
        assert!(routed_to.starts_with(&second.outbox().display().to_string()), "{routed_to}");
        assert!(default_to.starts_with(&first.outbox().display().to_string()), "{default_to}");

        std::fs::write(first.inbox().join("a.999"), interchange("ST*999*0001*005010X231A1")).unwrap();
        std::fs::write(second.inbox().join("b.999"), interchange("ST*999*0002*005010X231A1")).unwrap();
        let items = routed.receive(2).await.unwrap();
        let mut names: Vec<&str> = items.iter().map(|item| item.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["a.999", "b.999"], "one from each link even when max is 2");
        for item in items {
            routed.settle(item.receipt, Settlement::Accepted).await.unwrap();
        }
        assert!(routed.receive(10).await.unwrap().is_empty(), "each item was settled with its own link");
    }
}
