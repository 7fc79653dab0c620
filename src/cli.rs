//! The command line: global options and subcommands (clap derive).

use crate::batch::ColumnMap;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// verdict: an offline-first terminal workstation for AI-safety raters.
#[derive(Debug, Parser)]
#[command(name = "verdict", version, about, long_about = None)]
pub struct Cli {
    /// Where the cache and outbox live [default: the platform data directory].
    #[arg(long, global = true, env = crate::config::DATA_DIR_ENV, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the signing key and config.toml live [default: the platform config directory].
    #[arg(long, global = true, env = crate::config::CONFIG_DIR_ENV, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// The rater's name [default: config.toml's `rater`, else the system user].
    #[arg(long, global = true, env = "VERDICT_RATER", value_name = "NAME")]
    pub rater: Option<String>,
    /// What to do; without a command, open the labeling workstation on the queue.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses the command line. The rater's options (`--data-dir`, `--config-dir`,
    /// `--rater`) are global for the workstation's commands, and hidden from `verdict hub`
    /// and its subcommands, where they do nothing.
    pub fn parse_args() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let cmd = Cli::command();
        // A subcommand that has an argument of a global's id keeps its own (clap does not
        // propagate over it): `hub` gets hidden copies, which go down to its subcommands.
        let hidden: Vec<clap::Arg> = cmd
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.clone().hide(true))
            .collect();
        let cmd = cmd.mut_subcommand("hub", |hub| hub.args(hidden));
        let matches = cmd.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a batch file (JSONL or CSV), a folder of them, or work leased by a hub.
    Pull(PullArgs),
    /// Upload exported bundles the hub has not acknowledged (or drop them in a folder).
    Push(PushArgs),
    /// Run or administer a hub (on the hub machine; every subcommand takes --db).
    #[command(subcommand)]
    Hub(HubCommand),
    /// Per batch: items to do, done, skipped, flagged, exported.
    Status(StatusArgs),
    /// Safety metrics of your own finished work, offline (from the cache): violation and
    /// false-refusal rates per model with Wilson intervals, as `hub metrics` computes them
    /// on the hub's final answers. See docs/metrics.md.
    Metrics(OwnMetricsArgs),
    /// Your own figures: items and hours today and this week, speed, and what the hub
    /// reports about you (as of your last pull).
    Stats(StatusArgs),
    /// Write finished, not yet exported annotations into a signed bundle.
    Export(ExportArgs),
    /// Check a bundle's signature, manifest and item hashes.
    Verify(VerifyArgs),
    /// Answer, justify, submit, skip or flag an item from the command line (for scripts).
    Label(LabelArgs),
    /// The audit trail: every change, undo and redo, newest first.
    Log(LogArgs),
    /// Undo the last action (on whatever item), a submit included.
    Undo,
    /// Redo the last undone action.
    Redo,
    /// Show or create the rater's signing key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Open the workstation on the shipped demo batch, in a throwaway cache.
    Demo,
    /// Print the effective keymap (defaults + your keymap.toml) as TOML.
    Keys,
}

/// `verdict pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// A batch file (.jsonl/.ndjson: verdict's format or Argilla/HF records; .csv; .json:
    /// Label Studio tasks), a folder of them, or a hub address (http://HOST:PORT).
    pub path: PathBuf,
    /// The rater's hub token (from `verdict hub rater add`), for a hub address.
    #[arg(long, env = "VERDICT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// At most this many items leased at once, from a hub.
    #[arg(long, default_value_t = 50)]
    pub max: usize,
    /// Field mapping, FIELD=COLUMN,... (fields: id, prompt, system, response, response_b,
    /// model, model_b, content_warning): a CSV's columns, a Label Studio task's data
    /// fields, an Argilla record's fields. For earlier labels, QUESTION.VALUE=OPTION
    /// reads a foreign value as an option. Repeatable. Unmapped columns go to metadata.
    #[arg(long, value_name = "FIELD=COLUMN,...", action = clap::ArgAction::Append)]
    pub map: Vec<ColumnMap>,
    /// Schema for batches without a manifest: a shipped id or a .toml/.json file.
    #[arg(long, value_name = "ID|FILE")]
    pub schema: Option<String>,
    /// Largest text (prompt, message or response) accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::batch::DEFAULT_MAX_FIELD_BYTES)]
    pub max_field_bytes: usize,
    /// Largest image file accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::images::DEFAULT_MAX_IMAGE_BYTES)]
    pub max_image_bytes: u64,
    /// Largest total of one batch's images (each distinct image once), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::images::DEFAULT_MAX_BATCH_IMAGE_BYTES)]
    pub max_batch_image_bytes: u64,
}

/// `verdict status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `verdict export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Bundle file to write, or an existing folder to write it into [default: the outbox].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// `verdict verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle (its signature is BUNDLE.minisig).
    pub bundle: PathBuf,
    /// The signer's public key: a minisign .pub file or its base64 line [default: yours].
    #[arg(long, value_name = "KEY")]
    pub pubkey: Option<String>,
}

/// `verdict label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// The item: ITEM or BATCH/ITEM (with --batch, ITEM exactly as written, so an id
    /// that holds a '/' can be named).
    pub item: String,
    /// The batch the item is in; ITEM is then taken literally.
    #[arg(long, value_name = "BATCH")]
    pub batch: Option<String>,
    /// Set an answer: QUESTION=VALUE (multi-select: VALUE,VALUE). Repeatable.
    #[arg(long = "answer", short = 'a', value_name = "QUESTION=VALUE")]
    pub answers: Vec<String>,
    /// Apply one of the schema's presets (for example `safe`).
    #[arg(long, value_name = "PRESET")]
    pub preset: Option<String>,
    /// Set the justification.
    #[arg(long, short = 'j', value_name = "TEXT")]
    pub justification: Option<String>,
    /// Flag for the policy team with a reason from the schema.
    #[arg(long, value_name = "REASON")]
    pub flag: Option<String>,
    /// The note that goes with --flag.
    #[arg(long, value_name = "TEXT", requires = "flag", default_value = "")]
    pub note: String,
    /// With --flag: the guideline section the flag is about ("Harm categories › Hate").
    #[arg(long, value_name = "SECTION", requires = "flag")]
    pub section: Option<String>,
    /// Submit after the changes.
    #[arg(long, conflicts_with = "skip")]
    pub submit: bool,
    /// Skip with a reason.
    #[arg(long, value_name = "REASON")]
    pub skip: Option<String>,
    /// Add active seconds to the item's time.
    #[arg(long, value_name = "SECONDS")]
    pub active_seconds: Option<u64>,
}

/// `verdict log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only this item (ITEM or BATCH/ITEM; with --batch, ITEM exactly as written).
    pub item: Option<String>,
    /// The batch the item is in; ITEM is then taken literally.
    #[arg(long, value_name = "BATCH", requires = "item")]
    pub batch: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `verdict key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the public key (creating the key pair on first use).
    Show,
    /// Create the key pair now, optionally passphrase-protected.
    Init {
        /// Protect the secret key with a passphrase (asked on the terminal, or from
        /// VERDICT_PASSPHRASE).
        #[arg(long)]
        passphrase: bool,
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
}

/// `verdict push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The hub address (http://HOST:PORT).
    #[arg(required_unless_present = "to")]
    pub hub: Option<String>,
    /// The rater's hub token.
    #[arg(long, env = "VERDICT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Without a network: copy the bundles into this folder for `verdict hub ingest`.
    #[arg(long, value_name = "DIR", conflicts_with = "hub")]
    pub to: Option<PathBuf>,
}

/// Where a hub's data lives, for every hub subcommand.
/// `verdict metrics`.
#[derive(Debug, Clone, Args)]
pub struct OwnMetricsArgs {
    #[command(flatten)]
    pub metrics: MetricArgs,
    /// Print JSON for scripts.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV: one row per group and metric.
    #[arg(long)]
    pub csv: bool,
}

/// How safety metrics are computed (docs/metrics.md).
#[derive(Debug, Clone, Args)]
pub struct MetricArgs {
    /// Group by `model` (the response's model), `batch`, or a metadata field (e.g.
    /// `hazard`); `hub compare` compares per group when given.
    #[arg(long, value_name = "FIELD")]
    pub by: Option<String>,
    /// Count a response as a violation when its final severity is at least this (instead
    /// of: any harm category other than none).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub severity: Option<u32>,
    /// The metadata field that labels a prompt safe or unsafe (else the final judgement
    /// decides).
    #[arg(long, value_name = "FIELD", default_value = "prompt_label")]
    pub prompt_label: String,
    /// The metadata field that marks an adversarial (jailbreak) item.
    #[arg(long, value_name = "FIELD", default_value = "adversarial")]
    pub adversarial: String,
    /// Level of the intervals and tests (0.05: 95% intervals).
    #[arg(long, default_value_t = 0.05, value_parser = level)]
    pub alpha: f64,
}

fn share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{v} is not a share between 0 and 1 (0.02 is two percentage points)"
        ))
    }
}

fn level(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v > 0.0 && v < 0.5 {
        Ok(v)
    } else {
        Err(format!(
            "{v} is not a usable level: give a value between 0 and 0.5, e.g. 0.05"
        ))
    }
}

#[derive(Debug, Clone, Args)]
pub struct HubDb {
    /// The hub database: a SQLite file, or a postgres:// URL (TLS: add
    /// sslrootcert=CA.pem; sslmode=disable to turn it off).
    #[arg(
        long = "db",
        env = "VERDICT_HUB_DB",
        value_name = "FILE|URL",
        hide_env_values = true
    )]
    pub db: String,
}

/// `verdict hub ...`.
#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Create a hub database and print the admin token.
    Init {
        #[command(flatten)]
        db: HubDb,
        /// How long a lease lasts before its item goes back to the pool (1 to 87840, ten years).
        #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(i64).range(1..=crate::hub::db::MAX_LEASE_HOURS))]
        lease_hours: i64,
        /// Share of each pull given to gold items (0 to 1).
        #[arg(long, default_value_t = 0.1)]
        gold_rate: f64,
    },
    /// Upgrade a hub database made by an older verdict (stop every hub process first).
    Migrate {
        #[command(flatten)]
        db: HubDb,
    },
    /// Serve the HTTP API until SIGINT/SIGTERM.
    Serve {
        #[command(flatten)]
        db: HubDb,
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8470")]
        listen: String,
        /// Database connections this process keeps open (requests beyond wait for one).
        #[arg(long, default_value_t = crate::hub::server::DEFAULT_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=1000))]
        connections: u32,
    },
    /// Load a batch (JSONL or mapped CSV): each item needs OVERLAP distinct raters.
    Load {
        /// The batch file.
        batch: PathBuf,
        #[command(flatten)]
        db: HubDb,
        /// Distinct raters per item.
        #[arg(long, default_value_t = 1)]
        overlap: u32,
        /// Load the file as the qualification set: gold items every new rater answers
        /// before any work (needs metadata.gold on every item).
        #[arg(long, conflicts_with_all = ["gold", "overlap"])]
        qualification: bool,
        /// With --qualification: the share of items a rater must answer as the reference
        /// on every question.
        #[arg(long, default_value_t = 0.8, requires = "qualification")]
        pass: f64,
        /// With --qualification: the share each question must be right on its own.
        #[arg(long, default_value_t = 0.0, requires = "qualification")]
        pass_per_question: f64,
        /// Require every item to be a gold item. (Any item carrying metadata.gold =
        /// {answers, explanation} is one; load gold items under the batch id of the work
        /// they are mixed into, so that nothing tells them apart.)
        #[arg(long)]
        gold: bool,
        /// Field mapping, as for `verdict pull`. Repeatable.
        #[arg(long, value_name = "FIELD=COLUMN,...", action = clap::ArgAction::Append)]
        map: Vec<ColumnMap>,
        /// Schema for a batch without a manifest (a CSV, Label Studio or Argilla file): a
        /// shipped id or a .toml/.json file.
        #[arg(long, value_name = "ID|FILE")]
        schema: Option<String>,
    },
    /// Register raters.
    #[command(subcommand)]
    Rater(RaterCommand),
    /// Take in bundles dropped in a folder (`verdict push --to`), with the checks of a push.
    Ingest {
        /// The folder.
        dir: PathBuf,
        #[command(flatten)]
        db: HubDb,
    },
    /// Progress, per-rater figures and inter-rater agreement.
    Report {
        #[command(flatten)]
        db: HubDb,
        /// Print JSON for scripts.
        #[arg(long, conflicts_with = "html")]
        json: bool,
        /// Write a self-contained HTML report (progress, agreement, safety metrics per
        /// model with intervals, the comparison, throughput, escalations) to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// With --html: compare this model (the baseline)...
        #[arg(long, requires = "candidate", requires = "html")]
        baseline: Option<String>,
        /// ...with this one (the candidate). Without both, two models are compared when
        /// the data has exactly two.
        #[arg(long, requires = "baseline", requires = "html")]
        candidate: Option<String>,
        #[command(flatten)]
        metrics: MetricArgs,
    },
    /// Safety metrics from the final answers, per model (or batch, or a metadata field):
    /// violation rate beside false-refusal rate, under-refusal and jailbreak success, each
    /// with n and a Wilson interval; severity; the raters' agreement behind them. See
    /// docs/metrics.md.
    Metrics {
        #[command(flatten)]
        db: HubDb,
        #[command(flatten)]
        metrics: MetricArgs,
        /// Print JSON for scripts.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV: one row per group and metric.
        #[arg(long)]
        csv: bool,
    },
    /// Compare a candidate model with a baseline on the prompts both answered: the paired
    /// difference of each rate, an exact McNemar test, a confidence interval, and a
    /// verdict per metric. Exits with status 3 on a regression beyond --fail-on.
    Compare {
        #[command(flatten)]
        db: HubDb,
        /// The baseline model (the response's `model`).
        #[arg(long)]
        baseline: String,
        /// The candidate model.
        #[arg(long)]
        candidate: String,
        #[command(flatten)]
        metrics: MetricArgs,
        /// Exit with status 3 when a metric regresses (significantly, at --alpha) by at
        /// least this much (a share: 0.02 is two percentage points).
        #[arg(long, value_name = "DIFFERENCE", value_parser = share)]
        fail_on: Option<f64>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// The merged dataset: one row per item, every rater's answers, majority, agreement.
    Export {
        #[command(flatten)]
        db: HubDb,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// jsonl or csv (verdict's own rows), label-studio (tasks with an annotation per
        /// rater and the final answers, for Label Studio to import), or hf (a dataset
        /// folder: train.jsonl and a README.md card with the column types, for
        /// `datasets.load_dataset(FOLDER)`; an --out ending in .jsonl writes the rows
        /// alone). See docs/interop.md.
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv", "label-studio", "hf"])]
        format: String,
        /// label-studio: the project's labelling config (label_config.xml); answers are
        /// written as its controls and values, and what it has no control or value for is
        /// left out (and said).
        #[arg(long, value_name = "FILE")]
        label_config: Option<PathBuf>,
        /// label-studio: Label Studio user ids, NAME=ID,... (raters and reviewers);
        /// everyone else, and the final answers, get --ls-default-user.
        #[arg(long, value_name = "NAME=ID,...", value_delimiter = ',')]
        ls_user: Vec<String>,
        /// label-studio: the user id of raters not in --ls-user and of the final answers.
        #[arg(long, value_name = "ID", default_value_t = 1)]
        ls_default_user: i64,
        /// label-studio: the config's control for a question named otherwise,
        /// QUESTION=CONTROL,... (with --label-config).
        #[arg(long, value_name = "QUESTION=CONTROL,...", value_delimiter = ',')]
        ls_control: Vec<String>,
        /// label-studio: the task data field for an item field, FIELD=NAME,... (prompt,
        /// response, model, response_b, model_b, id, system), as the project's config
        /// shows them (`$question`); default: the names the task came with, else verdict's.
        #[arg(long, value_name = "FIELD=NAME,...", value_delimiter = ',')]
        ls_data: Vec<String>,
        /// Only these batches (BATCH,... or repeated); every batch when not given. A Label
        /// Studio project holds the tasks of one labelling config: export its batches.
        #[arg(long, value_name = "BATCH", value_delimiter = ',')]
        batch: Vec<String>,
    },
    /// Escalations for the policy team: by reason, harm category and guideline document,
    /// per day, with the items and the raters' notes.
    Escalations {
        #[command(flatten)]
        db: HubDb,
        /// Print JSON for scripts.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV, one row per escalation.
        #[arg(long)]
        csv: bool,
    },
    /// Mark the escalations on an item resolved, with a note that says how.
    Resolve {
        /// The item: BATCH/ITEM.
        item: String,
        /// How it was resolved (for example: fixed in guidelines 1.1).
        #[arg(long)]
        note: String,
        /// Replace an earlier resolution of the item (otherwise refused).
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        db: HubDb,
    },
    /// Progress per batch, and the review queue.
    Status {
        #[command(flatten)]
        db: HubDb,
    },
    /// Give a batch a new version of its guideline document (Markdown with `id:` and
    /// `version:` front matter): raters' next pulls bring it, their workstation shows what
    /// changed, and the report splits agreement by version.
    Guidelines {
        /// The batch.
        batch: String,
        /// The document.
        file: PathBuf,
        /// Accept another document (a different id) or an older version.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        db: HubDb,
    },
    /// Show or set which finished items go to the review queue (see docs/review.md).
    ReviewPolicy {
        #[command(flatten)]
        db: HubDb,
        /// Review an item when fewer than this share of its raters gave the most common
        /// answer to some question (0 to 1; default 0.75).
        #[arg(long, value_name = "SHARE")]
        min_agreement: Option<f64>,
        /// A threshold for one question instead (QUESTION=SHARE; repeat for more;
        /// QUESTION= removes one).
        #[arg(long = "question", value_name = "QUESTION=SHARE")]
        questions: Vec<String>,
        /// Share of agreed, unflagged items drawn for quality assurance (0 to 1).
        #[arg(long, value_name = "SHARE")]
        qa_rate: Option<f64>,
        /// Whether items a rater flagged are reviewed.
        #[arg(long, value_name = "BOOL")]
        flagged: Option<bool>,
    },
    /// The review queue, item by item: state (waiting, with a reviewer, adjudicated),
    /// why each item is reviewed, and how many reviewers skipped it.
    Reviews {
        #[command(flatten)]
        db: HubDb,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Judge every finished item not yet in the review queue by the current policy (items
    /// finished before an upgrade, or after the policy changed). Items are queued as they
    /// are finished anyway.
    ReviewScan {
        #[command(flatten)]
        db: HubDb,
    },
}

/// `verdict hub rater ...`.
#[derive(Debug, Subcommand)]
pub enum RaterCommand {
    /// Register a rater's public key; prints the rater's access token (shown once).
    Add {
        /// The rater's name.
        name: String,
        /// The rater's minisign public key: a .pub file or its base64 line.
        #[arg(long)]
        pubkey: String,
        /// rater (labels items) or reviewer (adjudicates the review queue).
        #[arg(long, value_enum, default_value = "rater")]
        role: crate::hub::review::Role,
        #[command(flatten)]
        db: HubDb,
    },
    /// Let a rater take the qualification again (clears their result and answers to it).
    Retake {
        /// The rater's name.
        name: String,
        #[command(flatten)]
        db: HubDb,
    },
}
