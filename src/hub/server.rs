//! The hub's HTTP server (axum on tokio). Storage calls run on the blocking pool, each on
//! a connection of its own from a pool (r2d2), so that one rater's large push (checked
//! before any lock is taken) does not hold up the others. SQLite serialises the writes
//! itself; PostgreSQL takes row locks (see `hub::db`), so several hub processes can serve
//! one PostgreSQL database behind a load balancer.
//!
//! Every request is authenticated from its headers before its body is read, and the body
//! is read against a limit as it arrives: a client without a token costs the hub nothing
//! but the headers. Every error answer is JSON: `{"error": "...", "problems": [...]}`.

use super::api::{ApiError, PullRequest, PushRequest};
use super::db::{HubDb, HubError, Rater};
use super::sql::Target;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;

/// Largest request body accepted (a bundle of ~100,000 records fits).
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Largest pull request body (it holds one number).
const SMALL_BODY_LIMIT: usize = 64 * 1024;
/// Most items one pull may ask for.
pub const MAX_PULL: usize = 10_000;
/// Database connections per hub process, by default.
pub const DEFAULT_CONNECTIONS: u32 = 8;

/// Opens pooled connections to a hub's database.
pub struct Manager(pub Target);

impl r2d2::ManageConnection for Manager {
    type Connection = HubDb;
    type Error = HubError;

    fn connect(&self) -> Result<HubDb, HubError> {
        HubDb::open(&self.0)
    }

    fn is_valid(&self, conn: &mut HubDb) -> Result<(), HubError> {
        conn.alive()
    }

    fn has_broken(&self, conn: &mut HubDb) -> bool {
        conn.is_broken()
    }
}

type Pool = r2d2::Pool<Manager>;

/// A pool of `size` connections to the hub at `target` (opened now, so that a bad URL or
/// password is reported at start, not at the first request).
pub fn pool(target: &Target, size: u32) -> anyhow::Result<Pool> {
    // The first connection upgrades the schema if needed, before the others open.
    drop(HubDb::open(target)?);
    r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(1))
        .connection_timeout(std::time::Duration::from_secs(30))
        .error_handler(Box::new(LogErrors))
        .build(Manager(target.clone()))
        .map_err(|e| anyhow::anyhow!("hub database {}: {e}", target.display()))
}

#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<HubError> for LogErrors {
    fn handle_error(&self, error: HubError) {
        crate::errln!("hub database connection: {error}");
    }
}

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
        HubError::Refused { message, problems } | HubError::Invalid { message, problems } => {
            error(StatusCode::UNPROCESSABLE_ENTITY, message, problems)
        }
        HubError::Stale(message) => {
            crate::errln!("hub error: {message}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the hub is being upgraded; try again shortly",
                vec![],
            )
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

/// Runs `f` with a pooled connection on the blocking pool.
async fn with_db<T: Send + 'static>(
    pool: &Pool,
    f: impl FnOnce(&mut HubDb) -> Result<T, HubError> + Send + 'static,
) -> Result<T, Response> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || match pool.get() {
        Ok(mut conn) => f(&mut conn).map_err(from_hub),
        Err(e) => {
            crate::errln!("hub database: no connection: {e}");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the hub's database is unavailable; try again shortly",
                vec![],
            ))
        }
    })
    .await
    .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", vec![]))?
}

async fn rater(pool: &Pool, headers: &HeaderMap) -> Result<Rater, Response> {
    let Some(token) = bearer(headers) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "missing token: send Authorization: Bearer <token>",
            vec![],
        ));
    };
    match with_db(pool, move |d| d.rater_by_token(&token)).await? {
        Some(r) => Ok(r),
        None => Err(error(StatusCode::UNAUTHORIZED, "unknown token", vec![])),
    }
}

/// Reads a JSON body of at most `limit` bytes, after the caller has authenticated the
/// request: 415 without a JSON content type, 413 past the limit (said by Content-Length
/// or found while reading), 400 for JSON that does not parse or fit.
async fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, Response> {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as JSON (Content-Type: application/json)",
            vec![],
        ));
    }
    let too_big = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request is larger than the hub takes ({limit} bytes); export smaller bundles"
            ),
            vec![],
        )
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_big()),
        Err(e) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("reading the request failed: {e}"),
                vec![],
            ));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("the request is not the JSON this endpoint takes: {e}"),
            vec![],
        )
    })
}

async fn health(State(pool): State<Pool>) -> Response {
    match with_db(&pool, |d| d.ping()).await {
        Ok(()) => Json(serde_json::json!({
            "status": "ok",
            "tool": format!("verdict {}", env!("CARGO_PKG_VERSION")),
        }))
        .into_response(),
        Err(e) => e,
    }
}

async fn pull(State(pool): State<Pool>, headers: HeaderMap, body: Body) -> Response {
    let r = match rater(&pool, &headers).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    let req: PullRequest = match json_body(&headers, body, SMALL_BODY_LIMIT).await {
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
    match with_db(&pool, move |d| d.pull(&r, req.max)).await {
        Ok(resp) => Json(resp).into_response(),
        Err(e) => e,
    }
}

async fn push(State(pool): State<Pool>, headers: HeaderMap, body: Body) -> Response {
    let r = match rater(&pool, &headers).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    let req: PushRequest = match json_body(&headers, body, BODY_LIMIT).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    match with_db(&pool, move |d| {
        d.push(&r, req.bundle.as_bytes(), &req.signature)
    })
    .await
    {
        Ok(resp) => Json(resp).into_response(),
        Err(e) => e,
    }
}

/// `GET /v1/me`: what the hub reports about the rater whose token this is.
async fn me(State(pool): State<Pool>, headers: HeaderMap) -> Response {
    let r = match rater(&pool, &headers).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    match with_db(&pool, move |d| d.my_figures(&r)).await {
        Ok(f) => Json(f).into_response(),
        Err(e) => e,
    }
}

async fn status(State(pool): State<Pool>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "missing admin token", vec![]);
    };
    match with_db(&pool, move |d| d.is_admin(&token)).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::FORBIDDEN, "this needs the admin token", vec![]),
        Err(e) => return e,
    }
    match with_db(&pool, |d| d.progress()).await {
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

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint; see docs/hub-api.md",
        vec![],
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method; see docs/hub-api.md",
        vec![],
    )
}

/// The routes.
pub fn router(pool: Pool) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/pull", post(pull))
        .route("/v1/push", post(push))
        .route("/v1/me", get(me))
        .route("/v1/admin/status", get(status))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The handlers read bodies themselves, after authentication, with their limits.
        .layer(DefaultBodyLimit::disable())
        .with_state(pool)
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
/// bundle was committed (SQLite: synchronous = FULL; PostgreSQL: its commit) before its
/// answer was sent.
pub fn serve(target: &Target, listen: &str, connections: u32) -> anyhow::Result<()> {
    let pool = pool(target, connections)?;
    // The last handle on the pool is this one, dropped outside the runtime: PostgreSQL
    // connections close with a blocking call, which a runtime's own threads may not make.
    let served = pool.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let stop = shutdown_signal()?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        crate::outln!("verdict hub listening on http://{}", listener.local_addr()?);
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, router(served))
            .with_graceful_shutdown(stop)
            .await?;
        Ok::<(), anyhow::Error>(())
    });
    drop(rt);
    drop(pool);
    result?;
    crate::outln!("verdict hub stopped");
    Ok(())
}
