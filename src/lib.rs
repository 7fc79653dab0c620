//! verdict: a keyboard-driven, offline-first terminal workstation for AI-safety raters.
//!
//! Module map (who may call whom):
//! - [`safe`]: untrusted text made safe for a terminal (the sanitiser, `outln!`/`errln!`,
//!   JSON that escapes terminal controls); every human-facing line goes through it.
//! - [`private`]: files 0600 and folders 0700 whatever the umask; atomic writes.
//! - [`model`]: plain serde types (items, schemas, answers, bundle records); no I/O.
//! - [`batch`]: reads batch files (JSONL + manifest, CSV + column map) into checked items.
//! - [`guidelines`]: the shipped guideline documents, by id and version.
//! - [`store`]: the SQLite cache; the only module that speaks SQL. Uses `model`, `batch`.
//!   Every write is one `BEGIN IMMEDIATE` transaction that waits for (and names) another
//!   process holding the cache (`store::lock`).
//! - [`keys`]: the rater's minisign key pair.
//! - [`bundle`]: writes, signs and verifies export bundles. Uses `store`, `keys`.
//! - [`failpoint`]: crash injection for the kill tests (`VERDICT_FAILPOINT`).
//! - [`config`]: data/config directories, the rater's name, settings.
//! - [`hub`]: the assignment server and its client. Uses `batch`, `bundle`, `model`.
//! - [`tui`]: the labeling workstation (state / action / update / view). Uses `store`.
//! - [`cli`] and [`commands`]: the command line; one module per subcommand, calling the
//!   modules above. `main.rs` only parses and dispatches.

pub mod batch;
pub mod bundle;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod failpoint;
pub mod guidelines;
pub mod hub;
pub mod keys;
pub mod model;
pub mod private;
pub mod safe;
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
