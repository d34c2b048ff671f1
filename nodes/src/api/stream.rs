//! `GET /api/v1/stream/claims`: Server-Sent Events of claim state changes, only the caller's
//! organization (the service's subscription is per org) and, for a patient, only their own
//! claims. Each event is `event: claim` with the `ClaimChange` JSON (ids, statuses, event
//! names: no PHI).

use super::error::ApiError;
use super::AppState;
use crate::auth::rbac::{Entity, Scope};
use crate::auth::Caller;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::convert::Infallible;
use std::time::Duration;

pub async fn claims(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let scope = caller.read(Entity::Claim)?;
    let own = caller.own_patient();
    let changes = state.service.subscribe(caller.org());
    let events = changes
        .filter(move |change| {
            let visible = match scope {
                Scope::All => true,
                Scope::Own => own == Some(change.patient),
                Scope::None => false,
            };
            futures::future::ready(visible)
        })
        .map(|change| {
            let event = Event::default().event("claim").id(format!("{}:{}", change.claim_id, change.sequence));
            Ok::<Event, Infallible>(
                event.json_data(&change).unwrap_or_else(|_| Event::default().comment("unencodable")),
            )
        });
    // The first comment flushes the headers so a client knows the stream is open.
    let mut stopping = state.shutdown.subscribe();
    let stopped = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
    };
    let events = events.take_until(stopped);
    let opened = futures::stream::once(async { Ok::<Event, Infallible>(Event::default().comment("open")) });
    Ok(Sse::new(opened.chain(events)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}
