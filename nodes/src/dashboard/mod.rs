//! The web dashboard: server-rendered pages (`pages`) over the same views the API returns, a
//! stylesheet and one small script embedded with `include_str!` (no build step). It signs in
//! with a token once (`/dashboard?token=…`), which becomes an HttpOnly, SameSite=Strict
//! session cookie; the script then follows `/api/v1/stream/claims` and patches the page.

pub mod pages;

use crate::api::error::ApiError;
use crate::api::json::IdPath;
use crate::api::reports::aging_of;
use crate::api::service::ClaimFilter;
use crate::api::views::{payments_of, timeline, ClaimView, DenialView};
use crate::api::AppState;
use crate::auth::billing_scope;
use crate::auth::rbac::Entity;
use crate::auth::{Caller, SESSION_COOKIE};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use practice_protocol::ids::ClaimId;
use serde::Deserialize;

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard", get(board))
        .route("/dashboard/claims/{claim_id}", get(claim))
        .route("/dashboard/aging", get(aging))
        .route("/dashboard/denials", get(denials))
        .route("/dashboard/payments", get(payments))
        .route("/dashboard/modules/{module}", get(module))
        .route(
            "/dashboard/assets/app.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS) }),
        )
        .route(
            "/dashboard/assets/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS) }),
        )
        .layer(axum::middleware::map_response(harden))
}

/// Pages load only our own script and style, cannot be framed, and are not cached.
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let pairs = [
        (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in pairs {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: Option<String>,
}

/// Either the signed-in caller, or the response that signs in (cookie + redirect) or asks to.
async fn session(
    state: &AppState,
    uri: &Uri,
    query: TokenQuery,
    caller: Result<Caller, ApiError>,
) -> Result<Caller, Response> {
    if let Some(token) = query.token {
        return match state.keys.verify(token.trim(), Utc::now()) {
            Ok(claims) => {
                let max_age = (claims.exp - Utc::now().timestamp()).max(0);
                let cookie =
                    format!("{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}", token.trim());
                // Drop the token from the address bar and history.
                Err(([(header::SET_COOKIE, cookie)], Redirect::to(uri.path())).into_response())
            }
            Err(error) => Err(login(&error.to_string())),
        };
    }
    caller.map_err(|error| login(&error.message))
}

fn login(message: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Html(pages::login_page(message))).into_response()
}

fn refused(error: ApiError) -> Response {
    let status = error.status;
    (status, Html(pages::layout("Not available", "", &format!("<p>{}</p>", pages::escape(&error.message)))))
        .into_response()
}

fn control_number(claim: &ClaimView, state: &practice_protocol::claim::ClaimState) -> String {
    state.claim.as_ref().map(|claim| claim.patient_control_number.to_string()).unwrap_or_else(|| claim.id.to_string())
}

async fn board(
    State(state): State<AppState>,
    uri: Uri,
    Query(query): Query<TokenQuery>,
    caller: Result<Caller, ApiError>,
) -> Response {
    let caller = match session(&state, &uri, query, caller).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let scope = match caller.read(Entity::Claim) {
        Ok(scope) => scope,
        Err(error) => return refused(error),
    };
    let filter = ClaimFilter { patient: billing_scope(&caller, scope), limit: Some(1000), ..ClaimFilter::default() };
    let now = Utc::now();
    match state.service.list(caller.org(), filter).await {
        Ok(snapshots) => {
            let claims: Vec<(ClaimView, String)> = snapshots
                .iter()
                .filter_map(|snapshot| {
                    let view = ClaimView::from_snapshot(snapshot, now)?;
                    let control = control_number(&view, &snapshot.state);
                    Some((view, control))
                })
                .collect();
            Html(pages::board(&claims)).into_response()
        }
        Err(error) => refused(error.into()),
    }
}

async fn claim(
    State(state): State<AppState>,
    uri: Uri,
    Query(query): Query<TokenQuery>,
    caller: Result<Caller, ApiError>,
    IdPath(claim_id): IdPath<ClaimId>,
) -> Response {
    let caller = match session(&state, &uri, query, caller).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let record = match crate::api::claims::visible_claim(&state, &caller, claim_id, Entity::Claim).await {
        Ok(record) => record,
        Err(error) => return refused(error),
    };
    match ClaimView::from_record(&record, Utc::now()) {
        Some(view) => {
            let control = control_number(&view, &record.state);
            Html(pages::claim_page(&view, &control, &timeline(&record.history))).into_response()
        }
        None => refused(ApiError::not_found("claim")),
    }
}

async fn aging(
    State(state): State<AppState>,
    uri: Uri,
    Query(query): Query<TokenQuery>,
    caller: Result<Caller, ApiError>,
) -> Response {
    let caller = match session(&state, &uri, query, caller).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Err(error) = caller.read(Entity::Report) {
        return refused(error);
    }
    match state.service.list(caller.org(), ClaimFilter::default()).await {
        Ok(snapshots) => Html(pages::aging_page(&aging_of(&snapshots, Utc::now()))).into_response(),
        Err(error) => refused(error.into()),
    }
}

async fn denials(
    State(state): State<AppState>,
    uri: Uri,
    Query(query): Query<TokenQuery>,
    caller: Result<Caller, ApiError>,
) -> Response {
    let caller = match session(&state, &uri, query, caller).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let scope = match caller.read(Entity::Denial) {
        Ok(scope) => scope,
        Err(error) => return refused(error),
    };
    let filter = ClaimFilter { patient: billing_scope(&caller, scope), ..ClaimFilter::default() };
    let now = Utc::now();
    match state.service.list(caller.org(), filter).await {
        Ok(snapshots) => {
            let mut denials: Vec<DenialView> = snapshots
                .iter()
                .filter_map(|snapshot| {
                    Some((snapshot.state.claim.as_ref()?.id, snapshot.state.status?, &snapshot.state.denials))
                })
                .flat_map(|(id, status, notices)| {
                    notices.iter().map(move |notice| DenialView::new(id, status, notice, now))
                })
                .collect();
            denials.sort_by_key(|denial| denial.appeal_deadline);
            Html(pages::denials_page(&denials)).into_response()
        }
        Err(error) => refused(error.into()),
    }
}

async fn payments(
    State(state): State<AppState>,
    uri: Uri,
    Query(query): Query<TokenQuery>,
    caller: Result<Caller, ApiError>,
) -> Response {
    let caller = match session(&state, &uri, query, caller).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let scope = match caller.read(Entity::Payment) {
        Ok(scope) => scope,
        Err(error) => return refused(error),
    };
    let filter = ClaimFilter { patient: billing_scope(&caller, scope), ..ClaimFilter::default() };
    let snapshots = match state.service.list(caller.org(), filter).await {
        Ok(snapshots) => snapshots,
        Err(error) => return refused(error.into()),
    };
    let mut payments = Vec::new();
    let mut suspense = Vec::new();
    for snapshot in &snapshots {
        let Some(claim) = snapshot.state.claim.as_ref() else { continue };
        if let Some(ledger) = snapshot.state.ledger.as_ref() {
            if !ledger.unallocated_paid.is_zero() {
                suspense.push((claim.id.to_string(), format!("{} {}", ledger.unallocated_paid, ledger.currency)));
            }
        }
        if snapshot.state.applied_payments.is_empty() {
            continue;
        }
        if let Ok(Some(record)) = state.service.claim(caller.org(), claim.id).await {
            payments.extend(payments_of(&record));
        }
    }
    payments.sort_by_key(|payment| std::cmp::Reverse(payment.posted_at));
    Html(pages::payments_page(&payments, &suspense)).into_response()
}

async fn module(
    State(state): State<AppState>,
    uri: Uri,
    Query(query): Query<TokenQuery>,
    caller: Result<Caller, ApiError>,
    Path(module): Path<String>,
) -> Response {
    if let Err(response) = session(&state, &uri, query, caller).await {
        return response;
    }
    match pages::module_page(&module) {
        Some(page) => Html(page).into_response(),
        None => refused(ApiError::not_found("page")),
    }
}
