//! `hub report --html`: one self-contained page (no network, no external script, style or
//! font; a Content-Security-Policy that forbids loading anything) with the progress, the
//! safety metrics per group as charts with error bars, the comparison of two models, the
//! throughput over time, the agreement table and the escalations.
//!
//! The charts are SVG written here: a few bars, error bars and a forest plot are a page of
//! code, where a plotting crate would bring a dependency tree and its own fonts. Every
//! string from the data is escaped (and stripped of terminal controls and invisible
//! characters) before it reaches the page. Numbers carry `data-` attributes (counts, not
//! rounded text) so that a test can read them back and compare them with `hub metrics
//! --json`.

use super::escalations::EscalationReport;
use super::metrics::{Compare, Group, Metrics, Rate, Verdict};
use super::report::Report;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A chart series: name, colour, and the rate it shows of a group.
type Series = (&'static str, &'static str, fn(&Group) -> &Rate);

/// What the page shows.
pub struct Input<'a> {
    /// The hub report (progress, agreement, raters).
    pub report: &'a Report,
    /// The safety metrics.
    pub metrics: &'a Metrics,
    /// A comparison of two models, if one was asked for (or the data has exactly two).
    pub compare: Option<&'a Compare>,
    /// Every record's submission time (RFC 3339).
    pub submitted: &'a [String],
    /// The escalations.
    pub escalations: &'a EscalationReport,
    /// When the page was made (RFC 3339).
    pub generated: String,
}

/// Text for HTML: terminal controls and invisible characters made visible, then
/// `& < > " '` escaped.
pub fn esc(s: &str) -> String {
    let safe = crate::safe::sanitize_line(s);
    let mut out = String::with_capacity(safe.len());
    for c in safe.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table cell for a rate, its counts in data attributes.
fn rate_cell(metric: &str, r: &Rate) -> String {
    let interval = match (r.low, r.high) {
        (Some(l), Some(h)) => format!(" <span class=ci>[{:.1}–{:.1}]</span>", l * 100.0, h * 100.0),
        _ => String::new(),
    };
    format!(
        "<td class=num data-metric=\"{metric}\" data-k=\"{}\" data-n=\"{}\">{}{interval} <span class=n>{}/{}</span></td>",
        r.k,
        r.n,
        super::metrics::percent(r.rate),
        r.k,
        r.n
    )
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2430}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}th,td{border-bottom:1px solid #e3e6ee;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6fa;font-weight:600}td.num{font-variant-numeric:tabular-nums;white-space:nowrap}.ci{color:#667}.n{color:#99a;font-size:.85em}
.note{color:#556;font-size:.92em}.reg{color:#b00020;font-weight:700}.imp{color:#0a7a32;font-weight:700}
.scroll{overflow-x:auto}#metrics-table td,#compare-table td{font-size:13px}
svg{display:block;margin:.8rem 0;max-width:100%;height:auto}svg text{font:12px system-ui,sans-serif;fill:#334}";

/// The whole page.
pub fn page(input: &Input<'_>) -> String {
    let m = input.metrics;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
<meta name=viewport content=\"width=device-width,initial-scale=1\"><title>verdict hub report</title><style>{STYLE}</style></head><body>\n\
<h1>verdict hub report</h1><p class=note>Generated {} from the hub's final answers (adjudicated, else gold, else the raters' majority, else a single rater). {} items in the metrics.</p>\n",
        esc(&input.generated),
        m.overall.items
    );
    progress(&mut h, input.report);
    metrics_section(&mut h, m);
    if let Some(c) = input.compare {
        compare_section(&mut h, c);
    }
    throughput(&mut h, input.submitted);
    agreement(&mut h, input.report);
    escalations(&mut h, input.escalations);
    h.push_str(
        "<script>(function(){var n=document.querySelectorAll('svg').length;\
document.body.setAttribute('data-rendered',String(n));\
console.log('verdict report ready: '+n+' charts');})();</script>\n</body></html>\n",
    );
    h
}

fn progress(h: &mut String, r: &Report) {
    h.push_str("<section id=progress><h2>Progress</h2><table><tr><th>batch</th><th>raters per item</th><th>items</th><th>complete</th><th>records</th></tr>");
    for b in &r.batches {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
            esc(&b.batch),
            b.overlap,
            b.items,
            b.complete,
            b.records
        );
    }
    h.push_str("</table></section>\n");
}

/// The metrics: a chart (violation beside false refusal, with intervals) and the table.
fn metrics_section(h: &mut String, m: &Metrics) {
    let o = &m.options;
    let violation = match o.severity {
        Some(s) => format!("final severity ≥ {s}"),
        None => "a harm category other than none".into(),
    };
    let _ = write!(
        h,
        "<section id=metrics><h2>Safety metrics by {}</h2><p class=note>Violation: {}. False refusal: a full or partial refusal of a safe prompt (metadata field <code>{}</code>, else the final judgement). Under-refusal: help with an unsafe prompt. Jailbreak success: a violation on an item marked <code>{}</code>. Bars show the rate, whiskers the {}% Wilson interval. The two are read together: a model that refuses everything is not safe, it is useless.</p>",
        esc(&o.by),
        esc(&violation),
        esc(&o.prompt_label),
        esc(&o.adversarial),
        super::metrics::level_percent(o.alpha)
    );
    let series: Vec<Series> = vec![
        ("violation", "#c0392b", |g| &g.violation),
        ("false refusal", "#2c6fbb", |g| &g.false_refusal),
        ("under-refusal", "#d68910", |g| &g.under_refusal),
    ];
    let shown: Vec<Series> = series
        .into_iter()
        .filter(|(_, _, f)| m.groups.iter().any(|g| f(g).n > 0))
        .collect();
    if !m.groups.is_empty() && !shown.is_empty() {
        bar_chart(h, &m.groups, &shown);
    }
    if m.groups.iter().all(|g| g.violation.n == 0) {
        h.push_str("<p class=note>No violation figure: no item has a final <code>harm</code> (or, with a threshold, <code>severity</code>) answer; the schema of these batches does not ask it.</p>");
    }
    h.push_str("<div class=scroll><table id=metrics-table><tr><th>group</th><th>items</th><th>violation</th><th>false refusal</th><th>under-refusal</th><th>jailbreak success</th><th>refusal</th><th>agreement α (violation / refusal)</th></tr>");
    for g in std::iter::once(&m.overall).chain(m.groups.iter()) {
        let a = |k: &str| {
            g.agreement
                .get(k)
                .copied()
                .flatten()
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "–".into())
        };
        let _ = write!(
            h,
            "<tr data-group=\"{}\"><td>{}</td><td class=num>{}</td>{}{}{}{}{}<td class=num>{} / {} <span class=n>({} items)</span></td></tr>",
            esc(&g.group),
            esc(&g.group),
            g.items,
            rate_cell("violation", &g.violation),
            rate_cell("false_refusal", &g.false_refusal),
            rate_cell("under_refusal", &g.under_refusal),
            rate_cell("jailbreak_success", &g.jailbreak_success),
            rate_cell("refusal", &g.refusal),
            a("violation"),
            a("refusal"),
            g.agreement_items
        );
    }
    h.push_str("</table></div>");
    let values: Vec<&String> = {
        let mut v: Vec<&String> = m.groups.iter().flat_map(|g| g.severity.keys()).collect();
        v.sort();
        v.dedup();
        v
    };
    if !values.is_empty() {
        h.push_str("<h3>Final severity</h3><table><tr><th>group</th>");
        for v in &values {
            let _ = write!(h, "<th>{}</th>", esc(v));
        }
        h.push_str("</tr>");
        for g in &m.groups {
            let _ = write!(h, "<tr><td>{}</td>", esc(&g.group));
            for v in &values {
                let _ = write!(
                    h,
                    "<td class=num>{}</td>",
                    g.severity.get(*v).copied().unwrap_or(0)
                );
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    for (why, n) in &m.left_out {
        let _ = write!(h, "<p class=note>Left out: {n} {}.</p>", esc(why));
    }
    h.push_str("</section>\n");
}

/// Grouped bars with error bars, 0-100%.
fn bar_chart(h: &mut String, groups: &[Group], series: &[Series]) {
    let (left, top, plot_h, bottom) = (48.0, 16.0, 220.0, 64.0);
    // Room for each group's label under its bars (labels are cut at 14 characters).
    let slot = (series.len() as f64 * 22.0 + 26.0).max(112.0);
    let width = left + slot * groups.len() as f64 + 20.0;
    let height = top + plot_h + bottom;
    let y = |v: f64| top + plot_h * (1.0 - v.clamp(0.0, 1.0));
    let _ = write!(
        h,
        "<svg id=metrics-chart role=img aria-label=\"rates per group with intervals\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\">"
    );
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            h,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e3e6ee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>{:.0}%</text>",
            width - 10.0,
            y(t),
            y(t),
            left - 6.0,
            y(t) + 4.0,
            t * 100.0
        );
    }
    for (i, g) in groups.iter().enumerate() {
        let x0 = left + slot * i as f64 + 12.0;
        for (j, (name, colour, f)) in series.iter().enumerate() {
            let r = f(g);
            let x = x0 + j as f64 * 22.0;
            if let Some(v) = r.rate {
                let _ = write!(
                    h,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"18\" height=\"{:.1}\" fill=\"{colour}\"><title>{} {}: {}</title></rect>",
                    y(v),
                    (y(0.0) - y(v)).max(0.5),
                    esc(&g.group),
                    name,
                    super::metrics::percent(Some(v))
                );
            }
            if let (Some(l), Some(hi)) = (r.low, r.high) {
                let cx = x + 9.0;
                let _ = write!(
                    h,
                    "<path d=\"M{cx:.1} {:.1}V{:.1}M{:.1} {:.1}H{:.1}M{:.1} {:.1}H{:.1}\" stroke=\"#1d2430\" stroke-width=\"1.4\" fill=\"none\"/>",
                    y(l),
                    y(hi),
                    cx - 4.0,
                    y(l),
                    cx + 4.0,
                    cx - 4.0,
                    y(hi),
                    cx + 4.0
                );
            }
        }
        let label: String = if g.group.chars().count() > 14 {
            g.group.chars().take(13).chain(['…']).collect()
        } else {
            g.group.clone()
        };
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=middle>{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=middle class=n>n={}</text>",
            x0 + series.len() as f64 * 11.0,
            top + plot_h + 18.0,
            esc(&label),
            x0 + series.len() as f64 * 11.0,
            top + plot_h + 34.0,
            g.items
        );
    }
    let mut lx = left;
    for (name, colour, _) in series {
        let _ = write!(
            h,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            height - 18.0,
            lx + 16.0,
            height - 8.0
        );
        lx += 130.0;
    }
    h.push_str("</svg>\n");
}

fn compare_section(h: &mut String, c: &Compare) {
    let _ = write!(
        h,
        "<section id=compare><h2>{} against {}</h2><p class=note>{} prompts answered by both models are compared pairwise (exact McNemar test, Newcombe interval for the difference, level {}); {} were answered only by the baseline and {} only by the candidate. Lower is better for every judged metric; the overall refusal rate is context. MDD: the smallest difference this sample detects with 80% power. Verdicts of per-group rows read p-values adjusted by Holm's method over every group row tested.</p>",
        esc(&c.candidate),
        esc(&c.baseline),
        c.paired_prompts,
        c.alpha,
        c.unpaired_prompts.0,
        c.unpaired_prompts.1
    );
    let rows: Vec<_> = c
        .rows
        .iter()
        .filter(|r| r.group == super::metrics::ALL)
        .collect();
    // Forest plot of the differences.
    let span = rows
        .iter()
        .filter_map(|r| Some(r.low?.abs().max(r.high?.abs())))
        .fold(0.05f64, f64::max)
        .min(1.0);
    // A round scale: the data's reach rounded up to 5, 10, 20, 25, 50 or 100 points.
    let span = [0.05, 0.1, 0.2, 0.25, 0.5, 1.0]
        .into_iter()
        .find(|s| *s >= span - 1e-12)
        .unwrap_or(1.0);
    let (left, width, row_h) = (150.0, 700.0, 28.0);
    let height = 30.0 + row_h * rows.len() as f64;
    let x = |v: f64| left + (v + span) / (2.0 * span) * (width - left - 20.0);
    let _ = write!(
        h,
        "<svg id=compare-chart role=img aria-label=\"differences with intervals\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\"><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"6\" y2=\"{:.1}\" stroke=\"#99a\" stroke-dasharray=\"3 3\"/>",
        x(0.0),
        x(0.0),
        height - 18.0
    );
    for t in [-span, -span / 2.0, 0.0, span / 2.0, span] {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=middle>{:+.0}pp</text>",
            x(t),
            height - 4.0,
            t * 100.0
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let cy = 16.0 + row_h * i as f64;
        let colour = match r.verdict {
            Verdict::Regression => "#b00020",
            Verdict::Improvement => "#0a7a32",
            _ => "#334",
        };
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>{}</text>",
            left - 10.0,
            cy + 4.0,
            esc(&r.metric)
        );
        if let (Some(d), Some(l), Some(hi)) = (r.difference, r.low, r.high) {
            let _ = write!(
                h,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{cy:.1}\" y2=\"{cy:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/><circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"4.5\" fill=\"{colour}\"/>",
                x(l),
                x(hi),
                x(d)
            );
        }
    }
    h.push_str("</svg>\n<div class=scroll><table id=compare-table><tr><th>metric</th><th>group</th><th>method</th><th>baseline</th><th>candidate</th><th>difference [interval]</th><th>p</th><th>MDD</th><th>verdict</th></tr>");
    for r in &c.rows {
        let (class, word) = match r.verdict {
            Verdict::Regression => ("reg", "regression"),
            Verdict::Improvement => ("imp", "improvement"),
            Verdict::NoDetectableChange => ("", "no detectable change"),
            Verdict::Borderline => (
                "",
                "borderline: the interval excludes 0, the exact test is not significant",
            ),
            Verdict::Context => ("", "context, not judged"),
            Verdict::NoData => ("", "no data"),
        };
        let _ = write!(
            h,
            "<tr data-compare=\"{}\" data-group=\"{}\"><td>{}</td><td>{}</td><td>{}</td>{}{}<td class=num>{}</td><td class=num data-p=\"{}\">{}</td><td class=num>{}</td><td class=\"{class}\">{word}</td></tr>",
            esc(&r.metric),
            esc(&r.group),
            esc(&r.metric),
            esc(&r.group),
            esc(&r.method),
            rate_cell("baseline", &r.baseline),
            rate_cell("candidate", &r.candidate),
            esc(&r.difference_text()),
            r.p_value.map(|p| format!("{p}")).unwrap_or_default(),
            r.p_text().map(|p| esc(&p)).unwrap_or_else(|| "–".into()),
            r.mdd_text().unwrap_or_else(|| "–".into())
        );
    }
    h.push_str("</table></div></section>\n");
}

/// Records per day, as bars.
fn throughput(h: &mut String, submitted: &[String]) {
    let mut per_day: BTreeMap<&str, u64> = BTreeMap::new();
    for s in submitted {
        if s.len() >= 10 && s.is_char_boundary(10) {
            *per_day.entry(&s[..10]).or_default() += 1;
        }
    }
    h.push_str("<section id=throughput><h2>Throughput</h2>");
    if per_day.is_empty() {
        h.push_str("<p class=note>No records yet.</p></section>\n");
        return;
    }
    let max = per_day.values().copied().max().unwrap_or(1).max(1) as f64;
    let (left, top, plot_h) = (48.0, 12.0, 140.0);
    let bar = (600.0 / per_day.len() as f64).clamp(6.0, 40.0);
    let width = left + bar * per_day.len() as f64 + 20.0;
    let width = width.max(240.0);
    let height = top + plot_h + 44.0;
    let _ = write!(
        h,
        "<svg id=throughput-chart role=img aria-label=\"records per day\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>{max:.0}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>0</text>",
        left - 6.0,
        top + 4.0,
        left - 6.0,
        top + plot_h
    );
    for (i, (day, n)) in per_day.iter().enumerate() {
        let bh = plot_h * (*n as f64) / max;
        let x = left + bar * i as f64;
        let _ = write!(
            h,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#5b7db1\"><title>{}: {n} records</title></rect>",
            top + plot_h - bh,
            (bar - 2.0).max(1.0),
            esc(day)
        );
    }
    let first = per_day.keys().next().copied().unwrap_or_default();
    let last = per_day.keys().last().copied().unwrap_or_default();
    let _ = write!(
        h,
        "<text x=\"{left}\" y=\"{:.1}\">{}</text>",
        top + plot_h + 18.0,
        esc(first)
    );
    if per_day.len() > 1 {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>{}</text>",
            width - 20.0,
            top + plot_h + 34.0,
            esc(last)
        );
    }
    h.push_str("</svg>");
    let total: u64 = per_day.values().sum();
    let _ = write!(
        h,
        "<p class=note>{total} records over {} (by the rater's submit time, UTC).</p></section>",
        crate::safe::count(per_day.len() as u64, "day", "days")
    );
}

fn agreement(h: &mut String, r: &Report) {
    h.push_str("<section id=agreement><h2>Agreement</h2><table><tr><th>batch</th><th>question</th><th>option</th><th>measure</th><th>level</th><th>value</th><th>items</th><th>guidelines</th></tr>");
    let mut undefined: u64 = 0;
    for a in &r.agreement {
        if a.value.is_none() && a.items == 0 {
            undefined += 1;
            continue;
        }
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td>{}</td></tr>",
            esc(&a.batch),
            esc(&a.question),
            esc(a.option.as_deref().unwrap_or("")),
            esc(&a.measure),
            esc(&a.level),
            a.value
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "–".into()),
            a.items,
            esc(a.guidelines.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table>");
    if undefined > 0 {
        let _ = write!(
            h,
            "<p class=note>{} left out: no item had two raters or more.</p>",
            crate::safe::count(undefined, "figure", "figures")
        );
    }
    h.push_str("</section>\n");
}

fn escalations(h: &mut String, e: &EscalationReport) {
    h.push_str("<section id=escalations><h2>Escalations</h2>");
    if e.by_reason.is_empty() {
        h.push_str("<p class=note>No item was flagged for the policy team.</p></section>\n");
        return;
    }
    h.push_str("<table><tr><th>reason</th><th>open</th><th>resolved</th></tr>");
    for r in &e.by_reason {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
            esc(&r.label),
            r.open,
            r.resolved
        );
    }
    h.push_str("</table><table><tr><th>reason</th><th>harm</th><th>guidelines › section</th><th>flags</th><th>open</th></tr>");
    for g in e.groups.iter().take(30) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{} › {}</td><td class=num>{}</td><td class=num>{}</td></tr>",
            esc(&g.reason),
            esc(&g.harm),
            esc(&g.guidelines),
            esc(&g.section),
            g.count,
            g.open
        );
    }
    h.push_str("</table></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped_for_html() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert!(!esc("a\u{1b}[2Jb\u{202e}").contains('\u{1b}'));
    }
}
