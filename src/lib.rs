//! verdict: a keyboard-driven, offline-first terminal workstation for AI-safety raters.
//!
//! Module map: each module names the modules it may use, lowest first; nothing uses a
//! module below it in this list. `tests/architecture.rs` checks the map against the
//! code (every `crate::` path) and that every module is on it.
//!
//! - [`safe`] (uses nothing): untrusted text made safe for a terminal (the sanitiser,
//!   `outln!`/`errln!`, JSON that escapes terminal controls); every human-facing line
//!   goes through it.
//! - [`private`] (uses nothing): files 0600 and folders 0700 whatever the umask; atomic
//!   writes.
//! - [`clock`] (uses nothing): Unix milliseconds and RFC 3339.
//! - [`failpoint`] (uses nothing): crash injection for the kill tests
//!   (`VERDICT_FAILPOINT`).
//! - [`model`] (uses `safe`): plain serde types (items, schemas, answers, bundle
//!   records, reviews, calibration, qualification); no I/O.
//! - [`images`] (uses `model`): image files of image items (PNG, JPEG, WebP): checked by
//!   decoding within limits, `data:` URLs, captions.
//! - [`guidelines`] (uses `model`): the shipped guideline documents, by id and version.
//! - [`batch`] (uses `model` `images` `guidelines` `safe`): reads batch files (JSONL + manifest,
//!   CSV + column map) into checked items.
//! - [`store`] (uses `model` `images` `batch` `guidelines` `safe` `private` `clock` `failpoint`):
//!   the rater's SQLite cache and the only code that speaks SQL to it. Every write is one
//!   `BEGIN IMMEDIATE` transaction that waits for (and names) another process holding the
//!   cache (`store::lock`).
//! - [`stats`] (uses `model` `safe` `store`): the rater's own figures.
//! - [`keys`] (uses nothing): the rater's minisign key pair.
//! - [`bundle`] (uses `model` `store` `keys` `safe` `private` `clock` `failpoint`):
//!   writes, signs and verifies export bundles.
//! - [`config`] (uses `model`): data/config directories, the rater's name, settings.
//! - [`hub`] (uses `model` `images` `batch` `bundle` `keys` `safe` `private` `clock`
//!   `failpoint`): the assignment server (its database code in `hub::db`, SQLite or
//!   PostgreSQL) and its client.
//! - [`tui`] (uses `model` `images` `guidelines` `store` `stats` `config` `safe` `clock`): the
//!   labeling workstation (state / action / update / view).
//! - [`cli`] (uses `batch` `images` `config` `hub`): the command line's grammar (clap), with the
//!   defaults those modules define.
//! - [`commands`] (uses anything above): one module per subcommand. `main.rs` only parses
//!   and dispatches.

pub mod batch;
pub mod bundle;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod failpoint;
pub mod guidelines;
pub mod hub;
pub mod images;
pub mod keys;
pub mod model;
pub mod private;
pub mod safe;
pub mod stats;
pub mod store;
pub mod tui;

/// Runs a parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    use cli::Command;
    // The hub works on its own --db only: no rater, no cache, no config file.
    if let Some(Command::Hub(h)) = &cli.command {
        return commands::hub::run(h);
    }
    let env = config::Env::resolve(cli.data_dir, cli.config_dir, cli.rater)?;
    let Some(command) = &cli.command else {
        return commands::open::run(&env);
    };
    match command {
        Command::Pull(a) => commands::pull::run(&env, a),
        Command::Push(a) => commands::push::run(&env, a),
        Command::Hub(h) => commands::hub::run(h),
        Command::Status(a) => commands::status::run(&env, a),
        Command::Stats(a) => commands::stats::run(&env, a.json),
        Command::Metrics(a) => commands::metrics::run_own(&env, a),
        Command::Export(a) => commands::export::run(&env, a),
        Command::Verify(a) => commands::verify::run(&env, a),
        Command::Label(a) => commands::label::run(&env, a),
        Command::Key(k) => commands::key::run(&env, k),
        Command::Log(a) => commands::history::log(&env, a),
        Command::Undo => commands::history::undo(&env, false),
        Command::Redo => commands::history::undo(&env, true),
        Command::Demo => commands::demo::run(&env),
        Command::Keys => commands::open::keys(&env),
    }
}
