//! `verdict pull PATH`: import batch files into the cache.

use super::Env;
use crate::batch::{self, Options};
use crate::cli::PullArgs;
use crate::model::Schema;
use crate::store::{ImportReport, Store};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

/// Files larger than this get a progress bar (on a terminal).
const PROGRESS_MIN_BYTES: u64 = 4 * 1024 * 1024;
/// Warnings printed per file before the rest are counted.
const MAX_WARNINGS: usize = 20;

/// Resolves `--schema`: a shipped id, or a file.
pub fn schema_arg(arg: &str) -> anyhow::Result<Schema> {
    let p = Path::new(arg);
    if p.exists() {
        Ok(Schema::from_file(p)?)
    } else {
        Ok(Schema::builtin(arg)?)
    }
}

/// Pulls every batch file under `args.path`; each batch is its own transaction, and a
/// failed one leaves the cache as it was.
pub fn run(env: &Env, args: &PullArgs) -> anyhow::Result<()> {
    let source = args.path.to_string_lossy().to_string();
    if crate::hub::client::is_url(&source) {
        return from_hub(env, &source, args);
    }
    let schema = args.schema.as_deref().map(schema_arg).transpose()?;
    let map = crate::batch::ColumnMap::merge(&args.map).map_err(anyhow::Error::msg)?;
    let files = batch::files(&args.path)?;
    let mut store = Store::open(&env.data_dir)?;
    let mut failures = Vec::new();
    for file in &files {
        let options = Options {
            map: map.clone(),
            schema: schema.clone(),
            max_field_bytes: Some(args.max_field_bytes),
            max_image_bytes: Some(args.max_image_bytes),
            max_batch_image_bytes: Some(args.max_batch_image_bytes),
            no_image_paths: false,
        };
        match pull_file(&mut store, file, options) {
            Ok(r) => {
                report(file, &r);
                warn_shadowed(env, &mut store, &r.batch_id);
            }
            Err(e) => {
                crate::errln!("error: {e:#}");
                failures.push(file.display().to_string());
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        n if n == files.len() => anyhow::bail!("nothing was pulled"),
        _ => anyhow::bail!(
            "{} of {} files were not pulled ({}); the others were",
            failures.len(),
            files.len(),
            failures.join(", ")
        ),
    }
}

/// Pulls one file, printing its warnings and a progress bar on a terminal.
pub fn pull_file(store: &mut Store, file: &Path, options: Options) -> anyhow::Result<ImportReport> {
    let mut open = batch::open(file, options)?;
    let bar = if open.size >= PROGRESS_MIN_BYTES && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(open.size);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("pulling {}", open.header.batch_id));
        bar
    } else {
        ProgressBar::hidden()
    };
    let origin = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let result = store.import(&mut open, &origin.display().to_string(), |pos| {
        bar.set_position(pos)
    });
    bar.finish_and_clear();
    for w in open.warnings.iter().take(MAX_WARNINGS) {
        crate::errln!("warning: {}", warning_line(file, w));
    }
    if open.warnings.len() > MAX_WARNINGS {
        crate::errln!(
            "warning: ... and {} more warnings in {}",
            open.warnings.len() - MAX_WARNINGS,
            file.display()
        );
    }
    Ok(result?)
}

/// A warning as `FILE:LINE: what`, or `FILE: what` for line 0 (about the file as a
/// whole, or a task of a Label Studio list, which names itself).
pub fn warning_line(file: &Path, w: &batch::Warning) -> String {
    match w.line {
        0 => format!("{}: {}", file.display(), w.message),
        n => format!("{}:{n}: {}", file.display(), w.message),
    }
}

fn report(file: &Path, r: &ImportReport) {
    guidelines_line(r);
    if r.added == 0 {
        crate::outln!(
            "{}: batch {} is already in the cache; nothing new ({} items unchanged)",
            file.display(),
            r.batch_id,
            r.unchanged
        );
    } else {
        crate::outln!(
            "{}: pulled batch {}: {}{}",
            file.display(),
            r.batch_id,
            crate::safe::count(r.added, "new item", "new items"),
            if r.unchanged > 0 {
                format!(", {} already cached", r.unchanged)
            } else {
                String::new()
            }
        );
    }
}

/// Warns when the rater's keymap binds a key that an option key of a pulled batch's
/// schema shadows (a keymap with errors is reported when the workstation starts).
fn warn_shadowed(env: &Env, store: &mut Store, batch: &str) {
    let Ok(keymap) = crate::tui::keymap::Keymap::load_from(&env.config_dir) else {
        return;
    };
    if let Ok(Some(schema)) = store.batch_schema(batch) {
        for w in keymap.shadowed_by(&schema) {
            crate::errln!("warning: {w}");
        }
    }
}

/// Removes a file when dropped (the batch file a hub pull writes, whatever happens).
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Pulls leased work from a hub: each batch the hub sends is written as a batch file and
/// imported with the same checks as any other. What a hub sends is untrusted: every
/// batch id is checked before anything is written, the file's name never comes from the
/// hub, it is written only inside the data directory, and it is removed whatever happens.
fn from_hub(env: &Env, url: &str, args: &PullArgs) -> anyhow::Result<()> {
    let token = args.token.as_deref().ok_or_else(|| {
        anyhow::anyhow!("pulling from a hub needs your token: --token T or VERDICT_TOKEN")
    })?;
    let resp = crate::hub::client::pull(url, token, args.max)?;
    // A batch whose id is not a batch id is refused before anything is written; the
    // hub's other batches still come in (their items are leased to this rater).
    let mut refused = Vec::new();
    let mut good = Vec::new();
    for b in &resp.batches {
        match b.manifest["batch_id"].as_str() {
            Some(id) if crate::batch::valid_batch_id(id) => good.push(b),
            Some(id) => refused.push(format!(
                "the hub sent a batch with the id '{}', which is not a batch id (1-128 letters, digits, '.', '_', '-', starting with a letter or digit); its {} items were not pulled",
                crate::safe::sanitize_line(id),
                b.items.len()
            )),
            None => refused.push(format!(
                "the hub sent a batch without a batch id; its {} items were not pulled",
                b.items.len()
            )),
        }
    }
    let mut store = Store::open(&env.data_dir)?;
    let dir = env.data_dir.join("incoming");
    crate::private::create_dir(&dir)?;
    let mut total = 0;
    for (n, b) in good.into_iter().enumerate() {
        let file = RemoveOnDrop(dir.join(format!("hub-pull-{}-{n}.jsonl", std::process::id())));
        let mut text = serde_json::json!({"manifest": b.manifest}).to_string();
        text.push('\n');
        for item in &b.items {
            text.push_str(&item.to_string());
            text.push('\n');
        }
        crate::private::write_atomically(&file.0, text.as_bytes())?;
        let origin = url.to_string();
        let options = Options {
            max_image_bytes: Some(args.max_image_bytes),
            max_batch_image_bytes: Some(args.max_batch_image_bytes),
            no_image_paths: true,
            ..Options::default()
        };
        let mut open = batch::open(&file.0, options)?;
        let report = store.import(&mut open, &origin, |_| {})?;
        total += b.items.len();
        report_line(url, &report);
        warn_shadowed(env, &mut store, &report.batch_id);
    }
    store.save_calibration(&resp.calibration)?;
    // A retake: the hub counts qualification attempts, and this cache answered an
    // earlier one. The answers of that attempt are cleared (the hub has dropped them);
    // answers to the current attempt, pushed or not, are never touched. While pending,
    // what the hub sends is the qualification set.
    let attempt_key = format!("qualification_attempt {url}");
    let seen: Option<u32> = store.ui_get(&attempt_key)?.and_then(|v| v.parse().ok());
    if resp
        .qualification
        .as_ref()
        .is_some_and(|q| q.status == "pending" && seen.is_some_and(|s| q.attempt > s))
    {
        let items: Vec<(String, String)> = resp
            .batches
            .iter()
            .filter_map(|b| Some((b.manifest["batch_id"].as_str()?.to_string(), &b.items)))
            .flat_map(|(batch, items)| {
                items
                    .iter()
                    .filter_map(|i| i["id"].as_str())
                    .map(move |id| (batch.clone(), id.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let n = store.retake(&items)?;
        if n > 0 {
            crate::outln!(
                "Qualification retake: your {n} earlier answer{} to it {} cleared (kept in the item history); answer the items afresh",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" }
            );
        }
    }
    // (After the clearing: a failed clearing is tried again on the next pull.)
    if let Some(q) = resp.qualification.as_ref().filter(|q| q.attempt > 0) {
        store.ui_set(&attempt_key, &q.attempt.to_string())?;
    }
    let calibration = if resp.calibration.is_empty() {
        String::new()
    } else {
        format!(
            "; {} reference answers for gold items you labelled",
            resp.calibration.len()
        )
    };
    if total == 0 {
        crate::outln!(
            "The hub has no work for you now (nothing new is leased); pull again later{calibration}"
        );
    } else {
        crate::outln!(
            "{} leased to you until {}{calibration}",
            crate::safe::count(total as u64, "item", "items"),
            resp.lease_expires
        );
    }
    if let Some(q) = &resp.qualification {
        print_qualification(q);
    }
    // The hub's figures about this rater, kept for `verdict stats` and the workstation
    // (offline later). A hub that cannot say is no reason to fail the pull.
    match crate::hub::client::me(url, token) {
        Ok(f) => {
            let kept = serde_json::json!({"from": url, "at": crate::clock::rfc3339(crate::clock::now_ms()), "figures": f, "qualification": resp.qualification});
            store.ui_set(crate::stats::HUB_FIGURES_KEY, &kept.to_string())?;
        }
        Err(e) => crate::errln!("note: your figures from the hub are not updated: {e:#}"),
    }
    if !refused.is_empty() {
        for r in &refused {
            crate::errln!("error: {url}: {r}");
        }
        anyhow::bail!(
            "{} batches from the hub were refused (the others were pulled); tell the hub's operator",
            refused.len()
        );
    }
    Ok(())
}

/// Where the rater stands with the hub's qualification set.
fn print_qualification(q: &crate::hub::api::Qualification) {
    for l in crate::stats::qualification_lines(q) {
        crate::outln!("{l}");
    }
}

fn report_line(url: &str, r: &ImportReport) {
    crate::outln!(
        "{url}: batch {}: {}, {} already cached",
        r.batch_id,
        crate::safe::count(r.added, "new item", "new items"),
        r.unchanged
    );
    guidelines_line(r);
}

/// Says that a pull changed a batch's guideline document.
fn guidelines_line(r: &ImportReport) {
    if let Some(g) = &r.guidelines_changed {
        crate::outln!(
            "batch {}: the guidelines changed to {} {}; the workstation shows what changed before the batch's next item",
            r.batch_id,
            crate::safe::sanitize_line(&g.id),
            crate::safe::sanitize_line(&g.version)
        );
    }
}
