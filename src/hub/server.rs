//! The hub's HTTP server (axum on tokio). Storage calls run on the blocking pool, one at
//! a time behind a mutex, so that SQLite sees one writer and requests never stall the
//! async workers.

use super::api::{ApiError, PullRequest, PushRequest};
use super::db::{HubDb, HubError, Rater};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::{Arc, Mutex};

/// Largest request body accepted (a bundle of ~100,000 records fits).
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Most items one pull may ask for.
pub const MAX_PULL: usize = 10_000;

type Db = Arc<Mutex<HubDb>>;

fn error(status: StatusCode, message: impl Into<String>, problems: Vec<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
            problems,
        }),
    )
        .into_response()
}

fn from_hub(e: HubError) -> Response {
    match e {
        HubError::Refused { message, problems } => {
            error(StatusCode::UNPROCESSABLE_ENTITY, message, problems)
        }
        // Internal details stay in the hub's log, not in another rater's answer.
        other => {
            crate::errln!("hub error: {other}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the hub's log says more",
                vec![],
            )
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
}

/// Runs `f` with the database on the blocking pool.
async fn with_db<T: Send + 'static>(
    db: &Db,
    f: impl FnOnce(&mut HubDb) -> Result<T, HubError> + Send + 'static,
) -> Result<T, Response> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = db.lock().map_err(|_| HubError::Refused {
            message: "the hub is shutting down after an internal error".into(),
            problems: vec![],
        })?;
        f(&mut guard)
    })
    .await
    .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", vec![]))?
    .map_err(from_hub)
}

async fn rater(db: &Db, headers: &HeaderMap) -> Result<Rater, Response> {
    let Some(token) = bearer(headers) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "missing token: send Authorization: Bearer <token>",
            vec![],
        ));
    };
    match with_db(db, move |d| d.rater_by_token(&token)).await? {
        Some(r) => Ok(r),
        None => Err(error(StatusCode::UNAUTHORIZED, "unknown token", vec![])),
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(
        serde_json::json!({"status": "ok", "tool": format!("verdict {}", env!("CARGO_PKG_VERSION"))}),
    )
}

async fn pull(State(db): State<Db>, headers: HeaderMap, Json(req): Json<PullRequest>) -> Response {
    let r = match rater(&db, &headers).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    if req.max == 0 || req.max > MAX_PULL {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("max must be 1..={MAX_PULL}"),
            vec![],
        );
    }
    match with_db(&db, move |d| d.pull(&r, req.max)).await {
        Ok(resp) => Json(resp).into_response(),
        Err(e) => e,
    }
}

async fn push(State(db): State<Db>, headers: HeaderMap, Json(req): Json<PushRequest>) -> Response {
    let r = match rater(&db, &headers).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    match with_db(&db, move |d| {
        d.push(&r, req.bundle.as_bytes(), &req.signature)
    })
    .await
    {
        Ok(resp) => Json(resp).into_response(),
        Err(e) => e,
    }
}

async fn status(State(db): State<Db>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "missing admin token", vec![]);
    };
    match with_db(&db, move |d| d.is_admin(&token)).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::FORBIDDEN, "this needs the admin token", vec![]),
        Err(e) => return e,
    }
    match with_db(&db, |d| d.progress()).await {
        Ok(rows) => Json(
            rows.into_iter()
                .map(|(b, k, items, leased, records)| {
                    serde_json::json!({"batch": b, "overlap": k, "items": items, "leases": leased, "records": records})
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => e,
    }
}

/// The routes.
pub fn router(db: HubDb) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/pull", post(pull))
        .route("/v1/push", post(push))
        .route("/v1/admin/status", get(status))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::new(Mutex::new(db)))
}

/// Waits for SIGINT or SIGTERM. The handlers are installed when this is called (before
/// the hub says it is listening), so a signal that comes early still stops it cleanly.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Serves until SIGINT or SIGTERM; requests under way finish first. Every acknowledged
/// bundle was committed (synchronous = FULL) before its answer was sent.
pub fn serve(db: HubDb, listen: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let stop = shutdown_signal()?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        crate::outln!("verdict hub listening on http://{}", listener.local_addr()?);
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, router(db))
            .with_graceful_shutdown(stop)
            .await?;
        crate::outln!("verdict hub stopped");
        Ok(())
    })
}
