//! The workstation's side of the hub API (blocking HTTP with ureq).

use super::api::{ApiError, PullRequest, PullResponse, PushRequest, PushResponse};

/// True when a pull/push target is a hub address rather than a file.
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn endpoint(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

fn call<T: serde::de::DeserializeOwned>(
    base: &str,
    path: &str,
    token: &str,
    body: impl serde::Serialize,
) -> anyhow::Result<T> {
    let url = endpoint(base, path);
    let body = serde_json::to_vec(&body)?;
    // The hub answers a body over its limit before reading it and closes the connection;
    // say so here, plainly, rather than as a broken pipe.
    if body.len() > super::server::BODY_LIMIT {
        anyhow::bail!(
            "this request is {} bytes, more than a hub takes ({} bytes); nothing was sent; export more often, so that each bundle holds fewer records",
            body.len(),
            super::server::BODY_LIMIT
        );
    }
    let mut resp = ureq::post(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(&body[..])
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the hub at {base}: {e}; nothing was changed (try again when online)"
            )
        })?;
    let status = resp.status();
    let text = resp
        .body_mut()
        .with_config()
        .limit(512 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| anyhow::anyhow!("{url}: reading the answer failed: {e}"))?;
    if !status.is_success() {
        let detail = serde_json::from_str::<ApiError>(&text)
            .map(|e| {
                // What a hub says is untrusted: one line per problem, whatever it holds.
                let mut s = crate::safe::sanitize_line(&e.error);
                for p in e.problems {
                    s.push_str(&format!("\n  - {}", crate::safe::sanitize_line(&p)));
                }
                s
            })
            .unwrap_or(text);
        anyhow::bail!("the hub refused ({status}): {detail}");
    }
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{url}: unexpected answer: {e}"))
}

/// Asks the hub for up to `max` items.
pub fn pull(base: &str, token: &str, max: usize) -> anyhow::Result<PullResponse> {
    call(base, "/v1/pull", token, PullRequest { max })
}

/// Uploads one bundle.
pub fn push(
    base: &str,
    token: &str,
    bundle: String,
    signature: String,
) -> anyhow::Result<PushResponse> {
    call(base, "/v1/push", token, PushRequest { bundle, signature })
}

/// What the hub reports about this rater (`GET /v1/me`).
pub fn me(base: &str, token: &str) -> anyhow::Result<super::report::MyFigures> {
    let url = endpoint(base, "/v1/me");
    let mut resp = ureq::get(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| anyhow::anyhow!("cannot reach the hub at {base}: {e}"))?;
    let status = resp.status();
    let text = resp
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| anyhow::anyhow!("{url}: reading the answer failed: {e}"))?;
    if !status.is_success() {
        anyhow::bail!(
            "the hub refused ({status}): {}",
            crate::safe::sanitize_line(&text)
        );
    }
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{url}: unexpected answer: {e}"))
}
