//! The browser studio's live view, local only: `GET /api/v1/insights/live/`
//! streams, every second, each route's request rate, error rate and latency
//! percentiles over the last ten seconds as Server-Sent Events. It is no
//! route of the table (no Lambda could hold a stream open), so it is not in
//! the OpenAPI document either.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde_json::json;
use shared::http::ApiError;
use shared::insights::live::WINDOW_SECS;
use shared::insights::rollup::Rollup;

use super::AppState;

/// The path, without its trailing slash.
pub const PATH: &str = "/api/v1/insights/live";

/// The name of every event of the stream.
pub const EVENT: &str = "metrics";

/// One event: when it was taken, the seconds it covers, and every route
/// with requests in them.
fn snapshot(rollup: &Rollup) -> Event {
    let now = chrono::Utc::now();
    let body = json!({
        "at": now.to_rfc3339(),
        "window_secs": WINDOW_SECS,
        "routes": rollup.live(now.timestamp()),
    });
    Event::default().event(EVENT).data(body.to_string())
}

/// An event now, then one a second, for as long as the client listens.
fn events(rollup: Arc<Rollup>) -> impl Stream<Item = Result<Event, Infallible>> {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    stream::unfold((rollup, every), |(rollup, mut every)| async move {
        every.tick().await;
        let event = snapshot(&rollup);
        Some((Ok(event), (rollup, every)))
    })
}

/// `GET /api/v1/insights/live/`: signed-in callers only (401 otherwise).
pub(super) async fn serve(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if state
        .proxy
        .authorizer
        .authorize(authorization)
        .await
        .is_err()
    {
        return super::proxy::problem_response(&ApiError::Unauthenticated);
    }
    Sse::new(events(Arc::clone(&state.rollup)))
        .keep_alive(KeepAlive::default())
        .into_response()
}
