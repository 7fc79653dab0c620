//! Crash injection, for the tests that kill verdict between two steps: when the
//! environment variable `VERDICT_FAILPOINT` names a point, the process aborts there, as
//! `kill -9` at that moment would (no destructors, no flush, no rollback). Unset (always,
//! outside those tests), a failpoint costs one environment lookup on a cold path. [`pause`]
//! holds the process at a point instead, for as long as the test needs.

/// The environment variable naming the point to crash at.
pub const ENV: &str = "VERDICT_FAILPOINT";

/// Aborts the process if `VERDICT_FAILPOINT` is `name`.
pub fn hit(name: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == name) {
        std::process::abort();
    }
}

/// The environment variable naming a file: a [`pause`] point waits while it exists.
pub const HOLD_ENV: &str = "VERDICT_FAILPOINT_HOLD";

/// Waits at this point while the file named by `VERDICT_FAILPOINT_HOLD` exists (at most
/// a minute), if `VERDICT_FAILPOINT` is `name`: lets a test hold a real process at a
/// real step (a pull inside its transaction, say) for as long as it needs.
pub fn pause(name: &str) {
    if std::env::var_os(ENV).is_none_or(|v| v != name) {
        return;
    }
    let Some(hold) = std::env::var_os(HOLD_ENV) else {
        return;
    };
    // Say that the point was reached (`HOLD.reached`), for the test to go on.
    let mut reached = hold.clone();
    reached.push(".reached");
    let _ = std::fs::write(&reached, b"");
    let start = std::time::Instant::now();
    while std::path::Path::new(&hold).exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
