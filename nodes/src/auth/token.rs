//! Signed bearer tokens: `pos1.<payload>.<signature>`, both parts base64url without padding.
//! The payload is JSON (org, user, role level, optional patient, issue and expiry times); the
//! signature is HMAC-SHA256 (`ring`) over the literal `pos1.<payload>` text, so neither the
//! version nor the claims can be changed without the key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use practice_protocol::ids::{OrgId, PatientId, UserId};
use practice_protocol::roles::{Actor, Role};
use ring::hmac;
use serde::{Deserialize, Serialize};
use std::path::Path;

const PREFIX: &str = "pos1";
/// Environment variable holding the signing key (any string of at least 32 bytes).
pub const KEY_ENV: &str = "PRACTICE_TOKEN_KEY";
/// File in the data dir holding the signing key when the environment does not.
pub const KEY_FILE: &str = "token.key";
const MIN_KEY_BYTES: usize = 32;

/// What a token asserts. `level` is the role level of the seeds (10..90).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    pub org: OrgId,
    pub user: UserId,
    pub level: u8,
    /// The patient a level-10 token acts for; defaults to the user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientId>,
    pub iat: i64,
    pub exp: i64,
}

impl TokenClaims {
    pub fn role(&self) -> Option<Role> {
        Role::from_level(self.level)
    }

    /// The acting party for commands: patients act as `Actor::Patient`.
    pub fn actor(&self) -> Option<Actor> {
        match self.role()? {
            Role::Patient => Some(Actor::Patient { org: self.org, user: self.user, patient: self.patient_id() }),
            role => Some(Actor::User { org: self.org, user: self.user, role }),
        }
    }

    pub fn patient_id(&self) -> PatientId {
        self.patient.unwrap_or(PatientId(self.user.0))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token was presented")]
    Missing,
    #[error("the token is not a Practice OS token")]
    Malformed,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the token names role level {0}, which no role has")]
    UnknownRole(u8),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the signing key must be at least {MIN_KEY_BYTES} bytes, found {0}")]
    TooShort(usize),
    #[error("could not read or create the key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// The HMAC key that signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKey {
    key: hmac::Key,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(secret.len()));
        }
        Ok(Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) })
    }

    /// The key from `PRACTICE_TOKEN_KEY`, else `<data_dir>/token.key`, created with 32 random
    /// bytes (hex) on first use.
    pub fn load(data_dir: &Path) -> Result<Self, KeyError> {
        if let Ok(secret) = std::env::var(KEY_ENV) {
            return Self::new(secret.trim().as_bytes());
        }
        let path = data_dir.join(KEY_FILE);
        let io = |source| KeyError::Io { path: path.display().to_string(), source };
        match std::fs::read_to_string(&path) {
            Ok(secret) => Self::new(secret.trim().as_bytes()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let secret = random_hex(32);
                std::fs::write(&path, &secret).map_err(io)?;
                restrict_permissions(&path);
                Self::new(secret.as_bytes())
            }
            Err(error) => Err(io(error)),
        }
    }

    pub fn issue(&self, claims: &TokenClaims) -> String {
        // Serializing a struct of ids and integers cannot fail.
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signed = format!("{PREFIX}.{}", URL_SAFE_NO_PAD.encode(payload));
        let tag = hmac::sign(&self.key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Verify the signature first, then the content and the expiry.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<TokenClaims, TokenError> {
        let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (prefix, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        if prefix != PREFIX {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
        hmac::verify(&self.key, signed.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?;
        let claims: TokenClaims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired(DateTime::from_timestamp(claims.exp, 0).unwrap_or_default()));
        }
        if claims.role().is_none() {
            return Err(TokenError::UnknownRole(claims.level));
        }
        Ok(claims)
    }
}

/// Claims for a token valid from `now` for `ttl`.
pub fn claims_for(
    org: OrgId,
    user: UserId,
    role: Role,
    patient: Option<PatientId>,
    now: DateTime<Utc>,
    ttl: Duration,
) -> TokenClaims {
    TokenClaims { org, user, level: role.level(), patient, iat: now.timestamp(), exp: (now + ttl).timestamp() }
}

/// Parse a TTL such as `90s`, `15m`, `8h`, `30d`.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: i64 =
        number.parse().map_err(|_| format!("expected a number and a unit (s, m, h, d), found {text:?}"))?;
    let duration = match unit {
        "s" | "" => Duration::try_seconds(value),
        "m" => Duration::try_minutes(value),
        "h" => Duration::try_hours(value),
        "d" => Duration::try_days(value),
        other => return Err(format!("unknown unit {other:?}: use s, m, h or d")),
    };
    match duration {
        Some(duration) if value > 0 => Ok(duration),
        _ => Err(format!("the TTL must be positive and reasonable, found {text:?}")),
    }
}

pub(crate) fn random_hex(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buffer = vec![0u8; bytes];
    // The system RNG failing is not recoverable; an all-zero key would be worse than a panic,
    // so fall back to a uuid-based secret (still 122 random bits per uuid).
    if ring::rand::SystemRandom::new().fill(&mut buffer).is_err() {
        return format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    }
    buffer.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> TokenKey {
        TokenKey::new(&[byte; 32]).unwrap()
    }

    fn sample(now: DateTime<Utc>) -> TokenClaims {
        claims_for(OrgId::new_v4(), UserId::new_v4(), Role::BillingManager, None, now, Duration::hours(1))
    }

    #[test]
    fn round_trips_and_refuses_tampering() {
        let now = Utc::now();
        let claims = sample(now);
        let token = key(1).issue(&claims);
        assert_eq!(key(1).verify(&token, now).unwrap(), claims);
        assert_eq!(key(2).verify(&token, now), Err(TokenError::BadSignature));
        // Raise the level inside the payload: the signature no longer matches.
        let mut forged = claims.clone();
        forged.level = 80;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let signature = token.rsplit_once('.').unwrap().1;
        let tampered = format!("pos1.{forged_payload}.{signature}");
        assert_eq!(key(1).verify(&tampered, now), Err(TokenError::BadSignature));
        assert_eq!(key(1).verify("not a token", now), Err(TokenError::Malformed));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let now = Utc::now();
        let token = key(1).issue(&sample(now - Duration::hours(2)));
        assert!(matches!(key(1).verify(&token, now), Err(TokenError::Expired(_))));
    }

    #[test]
    fn ttl_parses_units_and_refuses_nonsense() {
        assert_eq!(parse_ttl("15m").unwrap(), Duration::minutes(15));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::days(2));
        assert!(parse_ttl("0h").is_err());
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("5y").is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(TokenKey::new(b"short"), Err(KeyError::TooShort(5))));
    }
}
