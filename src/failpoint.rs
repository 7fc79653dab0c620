//! Crash injection, for the tests that kill verdict between two steps: when the
//! environment variable `VERDICT_FAILPOINT` names a point, the process aborts there, as
//! `kill -9` at that moment would (no destructors, no flush, no rollback). Unset (always,
//! outside those tests), a failpoint costs one environment lookup on a cold path.

/// The environment variable naming the point to crash at.
pub const ENV: &str = "VERDICT_FAILPOINT";

/// Aborts the process if `VERDICT_FAILPOINT` is `name`.
pub fn hit(name: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == name) {
        std::process::abort();
    }
}
