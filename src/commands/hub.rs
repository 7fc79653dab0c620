//! `verdict hub ...`: administer and serve a hub from the hub machine.

use crate::batch::{self, Options};
use crate::cli::{HubCommand, RaterCommand};
use crate::hub::db::{HubDb, HubError};
use crate::hub::sql::Target;
use crate::keys;

/// Runs a hub subcommand.
pub fn run(cmd: &HubCommand) -> anyhow::Result<()> {
    match cmd {
        HubCommand::Init {
            db,
            lease_hours,
            gold_rate,
        } => {
            let (hub, token) = HubDb::init(&db.db, *lease_hours, *gold_rate)?;
            crate::outln!("Created hub database {}", hub.target().display());
            crate::outln!("Admin token (shown once; keep it safe): {token}");
        }
        HubCommand::Migrate { db } => {
            let (hub, found) = HubDb::migrate(&db.db)?;
            let now = HubDb::schema_version();
            if found == now {
                crate::outln!(
                    "Hub database {} is at schema version {now} already; nothing to do",
                    hub.target().display()
                );
            } else {
                crate::outln!(
                    "Upgraded hub database {} from schema version {found} to {now}",
                    hub.target().display()
                );
            }
        }
        HubCommand::Serve {
            db,
            listen,
            connections,
        } => {
            crate::hub::server::serve(&Target::parse(&db.db), listen, *connections)?;
        }
        HubCommand::Load {
            batch: file,
            db,
            overlap,
            gold,
            map,
            schema,
            qualification,
            pass,
            pass_per_question,
        } => {
            let map = crate::batch::ColumnMap::merge(map).map_err(anyhow::Error::msg)?;
            let schema = schema.as_deref().map(super::pull::schema_arg).transpose()?;
            let mut hub = HubDb::open(&db.db)?;
            let mut open = batch::open(
                file,
                Options {
                    map,
                    schema,
                    ..Options::default()
                },
            )?;
            if *qualification {
                let (id, added, same) =
                    hub.load_qualification(&mut open, *pass, *pass_per_question)?;
                for w in &open.warnings {
                    crate::errln!("warning: {}", super::pull::warning_line(file, w));
                }
                crate::outln!(
                    "Loaded qualification set {id}: {added} new items, {same} already loaded; a new rater answers them before any work (pass: {:.0}% of items right{})",
                    pass * 100.0,
                    if *pass_per_question > 0.0 {
                        format!(", {:.0}% on each question", pass_per_question * 100.0)
                    } else {
                        String::new()
                    }
                );
                return Ok(());
            }
            let (id, added, same) = hub.load(&mut open, *overlap, *gold)?;
            for w in &open.warnings {
                crate::errln!("warning: {}", super::pull::warning_line(file, w));
            }
            let actual = hub
                .progress()?
                .into_iter()
                .find(|p| p.0 == id)
                .map(|p| p.1)
                .unwrap_or(*overlap as i64);
            let needs = if *gold {
                "gold items go to every rater".to_string()
            } else if actual != *overlap as i64 {
                format!(
                    "each needs {actual} raters (the batch was loaded before with overlap {actual}; --overlap applies to a new batch only)"
                )
            } else {
                format!(
                    "each needs {actual} rater{}",
                    if actual == 1 { "" } else { "s" }
                )
            };
            crate::outln!(
                "Loaded batch {id}: {added} new {}items, {same} already loaded; {needs}",
                if *gold { "gold " } else { "" }
            );
        }
        HubCommand::Rater(RaterCommand::Retake { name, db }) => {
            let mut hub = HubDb::open(&db.db)?;
            let before = hub.allow_retake(name)?;
            crate::outln!(
                "{name} may take the qualification again (their result was: {}); their next pull brings its items",
                before.as_deref().unwrap_or("none yet")
            );
        }
        HubCommand::Rater(RaterCommand::Add {
            name,
            pubkey,
            role,
            db,
        }) => {
            let mut hub = HubDb::open(&db.db)?;
            let pk = keys::parse_public_arg(pubkey)?;
            let token = hub.add_person(name, &pk, *role)?;
            crate::outln!(
                "Registered {} {name} (key {})",
                role.as_str(),
                keys::key_id(pk.keynum())
            );
            crate::outln!("Token for {name} (shown once): {token}");
        }
        HubCommand::Ingest { dir, db } => ingest(dir, &db.db)?,
        HubCommand::Escalations { db, json, csv } => {
            let mut hub = HubDb::open(&db.db)?;
            let r = crate::hub::escalations::report(hub.escalations()?);
            if *json {
                crate::outln!("{}", crate::safe::json_pretty(&r)?);
            } else if *csv {
                print_escalations_csv(&r)?;
            } else {
                print_escalations(&r);
            }
        }
        HubCommand::Resolve {
            item,
            note,
            replace,
            db,
        } => {
            let mut hub = HubDb::open(&db.db)?;
            let Some((batch, id)) = item.split_once('/') else {
                anyhow::bail!("name the item as BATCH/ITEM (for example fixture-mixed/q1)");
            };
            let n = hub.resolve_escalation(batch, id, note, *replace)?;
            crate::outln!(
                "Resolved {n} escalation{} on {}",
                if n == 1 { "" } else { "s" },
                crate::safe::sanitize_line(item)
            );
        }
        HubCommand::Metrics {
            db,
            metrics,
            json,
            csv,
        } => {
            let mut hub = HubDb::open(&db.db)?;
            let m = super::metrics::gather(&mut hub, &super::metrics::options(metrics, "model"))?;
            if *json {
                crate::outln!("{}", crate::safe::json_pretty(&m)?);
            } else if *csv {
                crate::outln!("{}", super::metrics::csv(&m)?.trim_end());
            } else {
                super::metrics::print(&m);
            }
        }
        HubCommand::Compare {
            db,
            baseline,
            candidate,
            metrics,
            fail_on,
            json,
        } => {
            let mut hub = HubDb::open(&db.db)?;
            let opts = super::metrics::options(metrics, "model");
            let c = super::metrics::gather_compare(&mut hub, baseline, candidate, &opts)?;
            if *json {
                crate::outln!("{}", crate::safe::json_pretty(&c)?);
            } else {
                super::metrics::print_compare(&c);
            }
            if let Some(message) = fail_on.and_then(|f| super::metrics::regression(&c, f)) {
                return Err(super::metrics::Regressed(message).into());
            }
        }
        HubCommand::Report {
            db,
            json,
            html,
            baseline,
            candidate,
            metrics,
        } => {
            let mut hub = HubDb::open(&db.db)?;
            let mut r = crate::hub::report::report(
                &hub.batches()?,
                &hub.all_records()?,
                &hub.adjudications()?,
            );
            r.reviews = Some(hub.review_counts()?.into());
            r.escalations = crate::hub::escalations::report(hub.escalations()?).by_reason;
            let quals = hub.qualifications()?;
            for x in &mut r.raters {
                if let Some((_, status, score)) = quals.iter().find(|(n, _, _)| *n == x.rater) {
                    x.qualification = status.clone();
                    x.qualification_score = *score;
                }
            }
            if let Some(path) = html {
                super::metrics::write_html(
                    &mut hub,
                    &r,
                    path,
                    baseline.as_deref().zip(candidate.as_deref()),
                    &super::metrics::options(metrics, "model"),
                )?;
            } else if *json {
                crate::outln!("{}", crate::safe::json_pretty(&r)?);
            } else {
                print_report(&r);
            }
        }
        HubCommand::Export {
            db,
            out,
            format,
            label_config,
            ls_user,
            ls_default_user,
            ls_control,
            ls_data,
            batch,
        } => {
            if format != "label-studio" {
                for (given, flag) in [
                    (label_config.is_some(), "--label-config"),
                    (!ls_user.is_empty(), "--ls-user"),
                    (!ls_control.is_empty(), "--ls-control"),
                    (!ls_data.is_empty(), "--ls-data"),
                ] {
                    if given {
                        anyhow::bail!(
                            "{flag} is for --format label-studio (this export is {format}); nothing was written"
                        );
                    }
                }
            }
            let mut hub = HubDb::open(&db.db)?;
            let mut rows = crate::hub::report::dataset(&hub.all_records()?, &hub.adjudications()?);
            if out.is_dir() && format != "hf" {
                anyhow::bail!(
                    "{} is a folder: give the file to write (for example {}); nothing was written",
                    out.display(),
                    out.join(format!(
                        "export.{}",
                        if format == "label-studio" {
                            "json"
                        } else {
                            format.as_str()
                        }
                    ))
                    .display()
                );
            }
            // Everyone with work on the hub, before --batch narrows the rows.
            let everyone: Vec<String> = crate::hub::interop::people(&rows)
                .into_iter()
                .map(str::to_string)
                .collect();
            if !batch.is_empty() {
                let known: Vec<String> = hub.progress()?.into_iter().map(|p| p.0).collect();
                for b in batch {
                    if !known.contains(b) {
                        anyhow::bail!(
                            "--batch {}: no batch of that id on this hub (it has: {}); nothing was written",
                            crate::safe::sanitize_line(b),
                            crate::safe::sanitize_line(&known.join(", "))
                        );
                    }
                }
                rows.retain(|r| batch.contains(&r.batch_id));
            }
            let queue: std::collections::HashMap<(String, String), String> = hub
                .review_queue()?
                .into_iter()
                .map(|q| ((q.batch, q.item), q.state))
                .collect();
            for r in &mut rows {
                r.review = queue.get(&(r.batch_id.clone(), r.item_id.clone())).cloned();
            }
            let mut items = || -> anyhow::Result<Vec<crate::hub::interop::ExportItem>> {
                let mut items = hub.export_items()?;
                if !batch.is_empty() {
                    items.retain(|i| batch.contains(&i.batch));
                }
                Ok(items)
            };
            match format.as_str() {
                "hf" if hf_folder(out) => {
                    write_hf_folder(out, &rows, &items()?)?;
                    return Ok(());
                }
                "hf" => write_hf_rows(out, &rows, &items()?)?,
                "label-studio" => {
                    let options = label_studio_options(
                        label_config.as_deref(),
                        ls_user,
                        *ls_default_user,
                        ls_control,
                        ls_data,
                        everyone,
                    )?;
                    let (tasks, notes) =
                        crate::hub::interop::label_studio(&rows, &items()?, &options)
                            .map_err(|e| anyhow::anyhow!("{e}; nothing was written"))?;
                    for n in &notes {
                        crate::errln!("note: {n}");
                    }
                    let mut t = crate::safe::json(&tasks)?;
                    t.push('\n');
                    crate::private::write_atomically(out, t.as_bytes())
                        .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
                }
                _ => write_dataset(&rows, out, format)?,
            }
            crate::outln!(
                "Wrote {} to {}",
                crate::safe::count(rows.len() as u64, "item", "items"),
                out.display()
            );
        }
        HubCommand::Status { db } => {
            let mut hub = HubDb::open(&db.db)?;
            let progress = hub.progress()?;
            // The batch column as wide as its longest id (in characters), at least 40.
            let w = progress
                .iter()
                .map(|p| p.0.chars().count())
                .max()
                .unwrap_or(0)
                .max(40);
            crate::outln!(
                "{:<w$} {:>7} {:>6} {:>7} {:>8}",
                "batch",
                "overlap",
                "items",
                "leases",
                "records"
            );
            for (b, k, items, leases, records) in progress {
                crate::outln!("{b:<w$} {k:>7} {items:>6} {leases:>7} {records:>8}");
            }
            let (waiting, in_review, done) = hub.review_counts()?;
            crate::outln!(
                "review queue: {waiting} waiting, {in_review} with a reviewer, {done} adjudicated"
            );
        }
        HubCommand::ReviewPolicy {
            db,
            min_agreement,
            questions,
            qa_rate,
            flagged,
        } => {
            let mut hub = HubDb::open(&db.db)?;
            let mut p = hub.review_policy()?;
            let share = |what: &str, v: f64| -> anyhow::Result<f64> {
                if (0.0..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    anyhow::bail!("{what} must be a share between 0 and 1 (it is {v})")
                }
            };
            let changed = min_agreement.is_some()
                || !questions.is_empty()
                || qa_rate.is_some()
                || flagged.is_some();
            if let Some(v) = min_agreement {
                p.min_agreement = share("--min-agreement", *v)?;
            }
            if let Some(v) = qa_rate {
                p.qa_rate = share("--qa-rate", *v)?;
            }
            if let Some(v) = flagged {
                p.flagged = *v;
            }
            // A question id is checked against the loaded batches' schemas: a typo would
            // set a rule nothing follows.
            let mut known: Vec<String> = hub
                .batches()?
                .iter()
                .flat_map(|b| b.schema.questions.iter().map(|q| q.id.clone()))
                .collect();
            known.sort();
            known.dedup();
            for q in questions {
                let Some((id, v)) = q.split_once('=') else {
                    anyhow::bail!(
                        "--question takes QUESTION=SHARE (for example severity=0.9); got '{}'",
                        crate::safe::sanitize_line(q)
                    );
                };
                if v.trim().is_empty() {
                    p.questions.remove(id);
                    continue;
                }
                if !known.is_empty() && !known.iter().any(|k| k == id) {
                    anyhow::bail!(
                        "--question {}: no loaded batch asks a question with that id (questions: {}); nothing was changed",
                        crate::safe::sanitize_line(id),
                        known.join(", ")
                    );
                }
                let v: f64 = v.trim().parse().map_err(|_| {
                    anyhow::anyhow!(
                        "--question {}: '{}' is not a number",
                        crate::safe::sanitize_line(id),
                        crate::safe::sanitize_line(v)
                    )
                })?;
                p.questions
                    .insert(id.to_string(), share(&format!("--question {id}"), v)?);
            }
            if changed {
                hub.set_review_policy(&p)?;
                crate::outln!(
                    "Review policy set; it applies to items finished from now on (verdict hub review-scan applies it to finished items not yet queued)"
                );
            }
            crate::outln!(
                "An item is reviewed when fewer than {:.0}% of its raters give the most common answer to a question",
                p.min_agreement * 100.0
            );
            for (q, v) in &p.questions {
                crate::outln!(
                    "  {}: below {:.0}%",
                    crate::safe::sanitize_line(q),
                    v * 100.0
                );
            }
            crate::outln!(
                "Flagged items are {}reviewed; {:.0}% of agreed, unflagged items are drawn for quality assurance",
                if p.flagged { "" } else { "not " },
                p.qa_rate * 100.0
            );
        }
        HubCommand::Guidelines {
            batch,
            file,
            force,
            db,
        } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let Some((id, version)) = crate::guidelines::id_and_version(&text) else {
                anyhow::bail!(
                    "{}: a guideline document starts with front matter naming it:\n---\nid: verdict-safety\nversion: \"1.1\"\n---",
                    file.display()
                );
            };
            if text.contains('\0') || text.len() > 1 << 20 {
                anyhow::bail!(
                    "{}: a guideline document is text of at most 1 MiB",
                    file.display()
                );
            }
            let doc = crate::model::GuidelineRef {
                id,
                version,
                sha256: Some(crate::model::sha256_hex(text.as_bytes())),
            };
            let mut hub = HubDb::open(&db.db)?;
            let old = hub.set_guidelines(batch, &doc, &text, *force)?;
            crate::outln!(
                "Batch {} now follows {} {} (was {} {}); raters see what changed after their next pull",
                crate::safe::sanitize_line(batch),
                crate::safe::sanitize_line(&doc.id),
                crate::safe::sanitize_line(&doc.version),
                crate::safe::sanitize_line(&old.id),
                crate::safe::sanitize_line(&old.version)
            );
        }
        HubCommand::Reviews { db, json } => {
            let mut hub = HubDb::open(&db.db)?;
            let rows = hub.review_queue()?;
            if *json {
                crate::outln!("{}", crate::safe::json_pretty(&rows)?);
            } else if rows.is_empty() {
                crate::outln!("The review queue is empty.");
            } else {
                for r in &rows {
                    crate::outln!(
                        "{}/{}  {}{}  (queued {})",
                        r.batch,
                        r.item,
                        r.state,
                        if r.skipped_by > 0 {
                            format!(
                                "; skipped by {}",
                                crate::safe::count(r.skipped_by as u64, "reviewer", "reviewers")
                            )
                        } else {
                            String::new()
                        },
                        r.queued
                    );
                    for reason in &r.reasons {
                        crate::outln!("    {reason}");
                    }
                }
            }
        }
        HubCommand::ReviewScan { db } => {
            let mut hub = HubDb::open(&db.db)?;
            let n = hub.review_scan()?;
            let (waiting, in_review, done) = hub.review_counts()?;
            crate::outln!(
                "Queued {n} finished item{} for review; the queue: {waiting} waiting, {in_review} with a reviewer, {done} adjudicated",
                if n == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

/// Takes in the bundles of a folder: each is matched to its rater by the signing key and
/// checked exactly as a push is. A refused bundle is reported and left where it is.
fn ingest(dir: &std::path::Path, db: &str) -> anyhow::Result<()> {
    let mut hub = HubDb::open(db)?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut refused = 0;
    for file in files {
        let sig_file = crate::bundle::sig_path(&file);
        let outcome = (|| -> anyhow::Result<String> {
            let bundle = std::fs::read(&file)?;
            let sig = std::fs::read_to_string(&sig_file)
                .map_err(|e| anyhow::anyhow!("no signature {} ({e})", sig_file.display()))?;
            let sig_box = minisign::SignatureBox::from_string(&sig)
                .map_err(|e| anyhow::anyhow!("not a minisign signature: {e}"))?;
            let key_id = keys::key_id(sig_box.keynum());
            let rater = hub.rater_by_key_id(&key_id)?.ok_or_else(|| {
                anyhow::anyhow!("signed by key {key_id}, which no registered rater has")
            })?;
            match hub.push(&rater, &bundle, &sig) {
                Ok(ack) if ack.duplicate => Ok(format!("{}: already ingested", rater.name)),
                Ok(ack) => Ok(format!(
                    "{}: {} stored",
                    rater.name,
                    crate::safe::count(ack.accepted, "record", "records")
                )),
                Err(HubError::Refused { message, problems })
                | Err(HubError::Invalid { message, problems }) => {
                    anyhow::bail!("{message}\n  - {}", problems.join("\n  - "))
                }
                Err(e) => Err(e.into()),
            }
        })();
        match outcome {
            Ok(msg) => crate::outln!("{}: {msg}", file.display()),
            Err(e) => {
                refused += 1;
                crate::errln!("{}: {e:#}", file.display());
            }
        }
    }
    if refused > 0 {
        anyhow::bail!(
            "{} refused",
            match refused {
                1 => "1 bundle was".to_string(),
                n => format!("{n} bundles were"),
            }
        );
    }
    Ok(())
}

fn print_escalations(r: &crate::hub::escalations::EscalationReport) {
    use crate::safe::sanitize_line as line;
    if r.escalations.is_empty() {
        crate::outln!("No escalations.");
        return;
    }
    crate::outln!("By reason");
    crate::outln!("  {:<16} {:>6} {:>9}  label", "reason", "open", "resolved");
    for x in &r.by_reason {
        crate::outln!(
            "  {:<16} {:>6} {:>9}  {}",
            line(&x.reason),
            x.open,
            x.resolved,
            line(&x.label)
        );
    }
    crate::outln!("\nBy reason, harm category, guidelines and section (largest first)");
    for g in &r.groups {
        crate::outln!(
            "  {} · {} · {} · {}: {} ({} open)",
            line(&g.reason),
            line(&g.harm),
            line(&g.guidelines),
            line(&g.section),
            g.count,
            g.open
        );
        for (item, note) in g.items.iter().zip(&g.notes) {
            crate::outln!("    {}  {}", line(item), line(note));
        }
    }
    crate::outln!("\nPer day");
    for d in &r.by_day {
        crate::outln!("  {}  {:<16} {}", line(&d.day), line(&d.reason), d.count);
    }
    let resolved: Vec<_> = r
        .escalations
        .iter()
        .filter(|e| e.resolved.is_some())
        .collect();
    if !resolved.is_empty() {
        crate::outln!("\nResolved");
        for e in resolved {
            if let Some(x) = &e.resolved {
                crate::outln!(
                    "  {}/{}  {}  {}",
                    line(&e.batch),
                    line(&e.item),
                    line(&x.at),
                    line(&x.note)
                );
            }
        }
    }
}

fn print_escalations_csv(r: &crate::hub::escalations::EscalationReport) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "batch_id",
        "item_id",
        "rater",
        "reason",
        "harm",
        "guidelines",
        "section",
        "submitted",
        "note",
        "resolved_at",
        "resolution_note",
    ])?;
    for e in &r.escalations {
        let harm = e.harm.join(",");
        let (at, note) = match &e.resolved {
            Some(x) => (x.at.as_str(), x.note.as_str()),
            None => ("", ""),
        };
        w.write_record([
            &e.batch,
            &e.item,
            &e.rater,
            &e.reason,
            &harm,
            &e.guidelines,
            &e.section,
            &e.submitted,
            &e.note,
            at,
            note,
        ])?;
    }
    let text = String::from_utf8(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    // Cells keep the text as it came (a spreadsheet reads it), but nothing in it may drive
    // the terminal this is printed on.
    for l in text.lines() {
        crate::outln!("{}", crate::safe::sanitize_line(l));
    }
    Ok(())
}

fn fmt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "n/a".into())
}

fn print_report(r: &crate::hub::report::Report) {
    crate::outln!("Progress");
    crate::outln!(
        "  {:<36} {:>7} {:>6} {:>9} {:>8}",
        "batch",
        "overlap",
        "items",
        "complete",
        "records"
    );
    for b in &r.batches {
        crate::outln!(
            "  {:<36} {:>7} {:>6} {:>9} {:>8}",
            b.batch,
            b.overlap,
            b.items,
            b.complete,
            b.records
        );
    }
    crate::outln!("\nRaters");
    crate::outln!(
        "  {:<20} {:>6} {:>12} {:>14} {:>22}",
        "rater",
        "done",
        "median s",
        "gold accuracy",
        "gold changed after 1st"
    );
    for x in &r.raters {
        let gold = match x.gold_accuracy {
            Some(a) => format!("{:.0}% ({}/{})", a * 100.0, x.gold_correct, x.gold_items),
            None => "no gold yet".into(),
        };
        crate::outln!(
            "  {:<20} {:>6} {:>12.1} {:>14} {:>22}",
            x.rater,
            x.items_done,
            x.median_seconds,
            gold,
            x.gold_changed_after_feedback
        );
    }
    crate::outln!(
        "  (gold accuracy counts each rater's first record of a gold item; a later revision is kept and counted in the last column, never rescored)"
    );
    if r.raters.iter().any(|x| x.qualification.is_some()) {
        crate::outln!("\nQualification");
        for x in &r.raters {
            let status = match (&x.qualification, x.qualification_score) {
                (Some(s), Some(score)) => format!("{s} ({:.0}% right)", score * 100.0),
                (Some(s), None) => s.clone(),
                (None, _) => "not finished".into(),
            };
            crate::outln!("  {:<20} {}", x.rater, status);
        }
    }
    if !r.escalations.is_empty() {
        crate::outln!("\nEscalations (verdict hub escalations has the items and notes)");
        for x in &r.escalations {
            crate::outln!(
                "  {:<16} {:>4} open {:>4} resolved  {}",
                crate::safe::sanitize_line(&x.reason),
                x.open,
                x.resolved,
                crate::safe::sanitize_line(&x.label)
            );
        }
    }
    if r.raters.iter().any(|x| !x.with_final.is_empty()) {
        crate::outln!(
            "\nAgreement with final answers (adjudicated, or the majority's; per question: agreed/items, adjudicated items in brackets)"
        );
        for x in r.raters.iter().filter(|x| !x.with_final.is_empty()) {
            let cells: Vec<String> = x
                .with_final
                .iter()
                .map(|(q, s)| {
                    format!(
                        "{}: {} {}/{} [{}]",
                        crate::safe::sanitize_line(q),
                        s.share
                            .map(|v| format!("{:.0}%", v * 100.0))
                            .unwrap_or_else(|| "n/a".into()),
                        s.agreed,
                        s.items,
                        s.adjudicated
                    )
                })
                .collect();
            crate::outln!("  {:<20} {}", x.rater, cells.join("  "));
        }
    }
    if let Some(q) = &r.reviews {
        crate::outln!(
            "\nReview queue: {} waiting, {} with a reviewer, {} adjudicated",
            q.waiting,
            q.in_review,
            q.adjudicated
        );
    }
    for x in &r.reviewers {
        crate::outln!(
            "  {:<20} {} adjudicated: {} confirmed a rater, {} with answers of their own",
            x.reviewer,
            x.adjudicated,
            x.confirmed_a_rater,
            x.own_answers
        );
    }
    crate::outln!(
        "\nAgreement (items behind each figure in brackets; n/a: undefined, e.g. no variation)"
    );
    // Questions no item asked (pairwise questions in a batch of single responses) are
    // left out, and the categories nobody chose are named on one line per question:
    // `--json` has every row.
    let mut last = String::new();
    let mut unchosen: Vec<(String, String)> = Vec::new();
    let flush = |unchosen: &mut Vec<(String, String)>| {
        let mut by_q: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (q, o) in unchosen.drain(..) {
            let list = by_q.entry(q).or_default();
            if !list.contains(&o) {
                list.push(o);
            }
        }
        for (q, options) in by_q {
            crate::outln!(
                "    {:<28} no variation (n/a): {}",
                crate::safe::sanitize_line(&q),
                crate::safe::sanitize_line(&options.join(", "))
            );
        }
    };
    for a in r.agreement.iter().filter(|a| a.items > 0) {
        let mut q = match &a.option {
            Some(o) => format!("{}={}", a.question, o),
            None => a.question.clone(),
        };
        if let Some(g) = &a.guidelines {
            q = format!("{q} @ {}", crate::safe::sanitize_line(g));
        }
        if a.batch != last {
            flush(&mut unchosen);
            crate::outln!("  {}", a.batch);
            last = a.batch.clone();
        }
        if let (Some(o), None) = (&a.option, a.value) {
            let name = match &a.guidelines {
                Some(g) => format!("{} @ {}", a.question, g),
                None => a.question.clone(),
            };
            unchosen.push((name, o.clone()));
            continue;
        }
        crate::outln!(
            "    {:<28} {:<19} {:<8} {:>7} [{}]",
            q,
            a.measure,
            a.level,
            fmt(a.value),
            a.items
        );
    }
    flush(&mut unchosen);
}

/// The Label Studio export's options from its flags: the labelling config read and
/// parsed, `NAME=ID` users, `QUESTION=CONTROL` and `FIELD=NAME` pairs.
fn label_studio_options(
    label_config: Option<&std::path::Path>,
    ls_user: &[String],
    default_user: i64,
    ls_control: &[String],
    ls_data: &[String],
    everyone: Vec<String>,
) -> anyhow::Result<crate::hub::interop::LabelStudioOptions> {
    let config = match label_config {
        Some(p) => Some(
            crate::hub::interop::LabelConfig::parse(
                &std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    let mut users = Vec::new();
    for (name, id) in pairs(ls_user, "--ls-user", "NAME=ID")? {
        let id = id.parse::<i64>().map_err(|_| {
            anyhow::anyhow!(
                "--ls-user {}={}: give NAME=ID, the person's Label Studio user id (a number); nothing was written",
                crate::safe::sanitize_line(&name),
                crate::safe::sanitize_line(&id)
            )
        })?;
        users.push((name, id));
    }
    Ok(crate::hub::interop::LabelStudioOptions {
        config,
        users,
        default_user,
        controls: pairs(ls_control, "--ls-control", "QUESTION=CONTROL")?,
        fields: pairs(ls_data, "--ls-data", "FIELD=NAME")?,
        everyone,
    })
}

/// The `hf` rows as JSON lines.
fn hf_text(
    rows: &[crate::hub::report::DatasetRow],
    items: &[crate::hub::interop::ExportItem],
) -> anyhow::Result<String> {
    if let Some(i) = items.iter().find(|i| i.schema.question("source").is_some()) {
        anyhow::bail!(
            "schema {} has a question 'source', whose column would be label_source, the column that says where each final answer came from; export it as jsonl, or rename the question; nothing was written",
            crate::safe::sanitize_line(&i.schema.id)
        );
    }
    let mut t = String::new();
    for row in crate::hub::interop::hf_rows(rows, items) {
        t.push_str(&crate::safe::json(&row)?);
        t.push('\n');
    }
    Ok(t)
}

/// `--format hf` to a `.jsonl` file: the rows alone.
fn write_hf_rows(
    out: &std::path::Path,
    rows: &[crate::hub::report::DatasetRow],
    items: &[crate::hub::interop::ExportItem],
) -> anyhow::Result<()> {
    crate::private::write_atomically(out, hf_text(rows, items)?.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))
}

/// `--format hf` to a dataset folder: the rows (`train.jsonl`) and a card with their
/// types (`README.md`).
fn write_hf_folder(
    out: &std::path::Path,
    rows: &[crate::hub::report::DatasetRow],
    items: &[crate::hub::interop::ExportItem],
) -> anyhow::Result<()> {
    let text = hf_text(rows, items)?;
    if out.exists() && !out.is_dir() {
        anyhow::bail!(
            "{} is a file: --format hf writes a dataset folder (give a folder, new or existing) or a .jsonl file; nothing was written",
            out.display()
        );
    }
    let err = |e: std::io::Error| anyhow::anyhow!("{}: {e}", out.display());
    std::fs::create_dir_all(out).map_err(err)?;
    let card = crate::hub::interop::hf_card(items, rows.len(), "train.jsonl");
    crate::private::write_atomically(&out.join("train.jsonl"), text.as_bytes()).map_err(err)?;
    crate::private::write_atomically(&out.join("README.md"), card.as_bytes()).map_err(err)?;
    crate::outln!(
        "Wrote {} to {} (train.jsonl, and README.md with the column types: load_dataset(\"{}\"))",
        crate::safe::count(rows.len() as u64, "item", "items"),
        out.display(),
        out.display()
    );
    Ok(())
}

/// Whether an `hf` export goes to a dataset folder (rows and card): an existing folder, a
/// path ending in `/`, or one without a `.jsonl`/`.json` file name.
fn hf_folder(out: &std::path::Path) -> bool {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    out.is_dir()
        || out.as_os_str().to_string_lossy().ends_with('/')
        || !matches!(ext.as_str(), "jsonl" | "json")
}

/// NAME=VALUE arguments as pairs (each trimmed, neither empty).
fn pairs(args: &[String], flag: &str, form: &str) -> anyhow::Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{flag} {}: give {form}; nothing was written",
                        crate::safe::sanitize_line(a)
                    )
                })
        })
        .collect()
}

fn write_dataset(
    rows: &[crate::hub::report::DatasetRow],
    out: &std::path::Path,
    format: &str,
) -> anyhow::Result<()> {
    let mut text = String::new();
    if format == "csv" {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "batch_id",
            "item_id",
            "item_sha256",
            "gold",
            "raters",
            "majority",
            "agreement",
            "final_source",
            "final",
            "ratings",
        ])?;
        for r in rows {
            w.write_record([
                r.batch_id.clone(),
                r.item_id.clone(),
                r.item_sha256.clone(),
                r.gold.to_string(),
                r.ratings.len().to_string(),
                crate::safe::json(&r.majority)?,
                crate::safe::json(&r.agreement)?,
                r.final_answers
                    .as_ref()
                    .map(|f| f.source.clone())
                    .unwrap_or_default(),
                r.final_answers
                    .as_ref()
                    .map(crate::safe::json)
                    .transpose()?
                    .unwrap_or_default(),
                crate::safe::json(&r.ratings)?,
            ])?;
        }
        text = String::from_utf8(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    } else {
        for r in rows {
            text.push_str(&crate::safe::json(r)?);
            text.push('\n');
        }
    }
    // Private (0600) and atomic: a merged dataset is every rater's confidential work.
    crate::private::write_atomically(out, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    Ok(())
}
