//! Signed connector uploads. A clearinghouse connector sends
//! `X-Practice-Connector: <id>`, `X-Practice-Timestamp: <unix seconds>` and
//! `X-Practice-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`. The key is per
//! connector and names the organization it uploads for; a timestamp more than five minutes
//! off is refused so a captured request cannot be replayed later.
//!
//! Keys come from `PRACTICE_CONNECTOR_KEYS` (`id:org:secret` entries separated by commas) or
//! `<data-dir>/connectors.txt` (one `id org secret` per line).

use crate::api::error::ApiError;
use axum::http::{HeaderMap, StatusCode};
use practice_protocol::ids::OrgId;
use ring::hmac;
use std::collections::HashMap;
use std::path::Path;

pub const CONNECTOR_HEADER: &str = "x-practice-connector";
pub const TIMESTAMP_HEADER: &str = "x-practice-timestamp";
pub const SIGNATURE_HEADER: &str = "x-practice-signature";
pub const KEYS_ENV: &str = "PRACTICE_CONNECTOR_KEYS";
pub const KEYS_FILE: &str = "connectors.txt";
const MAX_SKEW_SECONDS: i64 = 300;

struct Connector {
    org: OrgId,
    key: hmac::Key,
}

/// The registered connectors and their keys.
#[derive(Default)]
pub struct ConnectorKeys {
    connectors: HashMap<String, Connector>,
}

impl ConnectorKeys {
    pub fn insert(&mut self, id: &str, org: OrgId, secret: &[u8]) {
        self.connectors.insert(id.to_string(), Connector { org, key: hmac::Key::new(hmac::HMAC_SHA256, secret) });
    }

    /// From the environment, else the data dir's file; none registered is valid (uploads are
    /// then refused).
    pub fn load(data_dir: &Path) -> Result<Self, String> {
        let mut keys = ConnectorKeys::default();
        let text = match std::env::var(KEYS_ENV) {
            Ok(text) => text.replace(',', "\n").replace(':', " "),
            Err(_) => std::fs::read_to_string(data_dir.join(KEYS_FILE)).unwrap_or_default(),
        };
        for (number, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [] => continue,
                [id, org, secret] => {
                    let org: OrgId =
                        org.parse().map_err(|_| format!("connector keys line {}: bad org id", number + 1))?;
                    keys.insert(id, org, secret.as_bytes());
                }
                _ => return Err(format!("connector keys line {}: expected `id org secret`", number + 1)),
            }
        }
        Ok(keys)
    }

    /// The organization a correctly signed upload is for.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(String, OrgId), ApiError> {
        let refuse = |why: &str| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "connector_signature_invalid",
                format!("connector upload refused: {why}"),
            )
        };
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        let id = header(CONNECTOR_HEADER).ok_or_else(|| refuse("missing X-Practice-Connector"))?;
        let timestamp: i64 = header(TIMESTAMP_HEADER)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| refuse("missing or malformed X-Practice-Timestamp"))?;
        let signature = header(SIGNATURE_HEADER)
            .and_then(|value| value.strip_prefix("sha256="))
            .and_then(decode_hex)
            .ok_or_else(|| refuse("missing or malformed X-Practice-Signature"))?;
        if (now - timestamp).abs() > MAX_SKEW_SECONDS {
            return Err(refuse("timestamp outside the five-minute window"));
        }
        // One answer for an unknown connector and a wrong signature.
        let connector = self.connectors.get(id).ok_or_else(|| refuse("signature does not verify"))?;
        hmac::verify(&connector.key, &signed_message(timestamp, body), &signature)
            .map_err(|_| refuse("signature does not verify"))?;
        Ok((id.to_string(), connector.org))
    }
}

fn signed_message(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    message
}

/// The signature header value a connector sends (what the tests send).
#[cfg(test)]
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, &signed_message(timestamp, body));
    format!("sha256={}", tag.as_ref().iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTOR_HEADER, HeaderValue::from_str(id).unwrap());
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from_str(&timestamp.to_string()).unwrap());
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers
    }

    #[test]
    fn verifies_the_body_and_refuses_tampering_and_replay() {
        let org = OrgId::new_v4();
        let mut keys = ConnectorKeys::default();
        keys.insert("waystar", org, b"connector-secret");
        let body = b"ISA*00*...~";
        let good = sign(b"connector-secret", 1_000, body);
        assert_eq!(keys.verify(&headers("waystar", 1_000, &good), body, 1_010).unwrap().1, org);
        let error = keys.verify(&headers("waystar", 1_000, &good), b"ISA*01*...~", 1_010).unwrap_err();
        assert_eq!(error.code, "connector_signature_invalid");
        assert!(keys.verify(&headers("waystar", 1_000, &good), body, 2_000).is_err());
        assert!(keys.verify(&headers("other", 1_000, &good), body, 1_010).is_err());
        let wrong_key = sign(b"another-secret", 1_000, body);
        assert!(keys.verify(&headers("waystar", 1_000, &wrong_key), body, 1_010).is_err());
    }
}
