//! Authentication and authorization at the edge: signed bearer tokens (`token`), the seed's
//! RBAC matrix (`rbac`), signed connector uploads (`connector`), and `Caller`, the extractor
//! every handler takes. Commands are checked again by the protocol's `decide`.

pub mod connector;
pub mod rbac;
pub mod token;

use crate::api::error::ApiError;
use crate::api::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use practice_protocol::ids::{OrgId, PatientId};
use practice_protocol::roles::{Actor, Role};
use rbac::{Action, Entity, Scope};
use token::{TokenClaims, TokenError};

/// The dashboard's session cookie: the same signed token, HttpOnly, accepted on GET only so a
/// cross-site form cannot use it to change anything.
pub const SESSION_COOKIE: &str = "practice_token";

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub claims: TokenClaims,
    pub role: Role,
    pub actor: Actor,
}

impl Caller {
    pub fn org(&self) -> OrgId {
        self.claims.org
    }

    /// The patient a level-10 caller is; `None` for staff.
    pub fn own_patient(&self) -> Option<PatientId> {
        (self.role == Role::Patient).then(|| self.claims.patient_id())
    }

    /// Refuse unless the matrix allows `action` on `entity` (403 before any lookup, so the
    /// answer never depends on whether an id exists).
    pub fn require(&self, entity: Entity, action: Action) -> Result<(), ApiError> {
        if rbac::allows(self.role, entity, action) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("{} may not {action:?} {entity:?}", self.role)))
        }
    }

    /// The read scope for `entity`, refusing when there is none.
    pub fn read(&self, entity: Entity) -> Result<Scope, ApiError> {
        match rbac::read_scope(self.role, entity) {
            Scope::None => Err(ApiError::forbidden(format!("{} may not read {entity:?}", self.role))),
            scope => Ok(scope),
        }
    }

    /// Whether a row about `patient` is visible under `scope`.
    pub fn sees_patient(&self, scope: Scope, patient: PatientId) -> bool {
        match scope {
            Scope::All => true,
            Scope::Own => self.own_patient() == Some(patient),
            Scope::None => false,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .or_else(|| matches!(parts.method, Method::GET | Method::HEAD).then(|| session_cookie(parts)).flatten());
        let token = token.ok_or(TokenError::Missing)?;
        let claims = state.keys.verify(&token, chrono::Utc::now())?;
        let role = claims.role().ok_or(TokenError::UnknownRole(claims.level))?;
        let actor = claims.actor().ok_or(TokenError::UnknownRole(claims.level))?;
        tracing::Span::current().record("org", tracing::field::display(claims.org));
        Ok(Caller { claims, role, actor })
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

pub fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_string())
        })
}

/// The patient filter a read scope imposes: under `Own` only the caller's rows (a nil id,
/// matching nothing, if a non-patient somehow had `Own`); under `All` none.
pub fn billing_scope(caller: &Caller, scope: Scope) -> Option<PatientId> {
    match scope {
        Scope::Own => Some(caller.own_patient().unwrap_or(PatientId(uuid::Uuid::nil()))),
        Scope::All | Scope::None => None,
    }
}
