//! `verdict demo`: the shipped demo batch in a throwaway cache.

use super::Env;
use crate::batch::Options;
use crate::store::Store;

/// The demo batch (built from public data; see assets/demo/README.md).
pub const DEMO_BATCH: &str = include_str!("../../assets/demo/demo.jsonl");

/// Pulls the demo batch into a temporary data directory and shows what is in it. The
/// labeling screen (issue: the TUI) will open here; until then this shows the queue.
pub fn run(_env: &Env) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("verdict-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("demo.jsonl");
    std::fs::write(&file, DEMO_BATCH)?;
    let result = show(&dir, &file);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn show(dir: &std::path::Path, file: &std::path::Path) -> anyhow::Result<()> {
    let mut store = Store::open(&dir.join("data"))?;
    let report = super::pull::pull_file(&mut store, file, Options::default())?;
    println!(
        "verdict demo: batch {} with {} items, in a throwaway cache.\n",
        report.batch_id, report.added
    );
    for key in store.queue()? {
        let item = store.item(key)?;
        let kind = if item.content.is_pairwise() {
            "pairwise"
        } else if item.content.conversation.len() > 1 {
            "multi-turn"
        } else {
            "single"
        };
        let first = item
            .content
            .conversation
            .iter()
            .find(|m| m.role == crate::model::Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or_default();
        let preview: String = if item.extras.content_warning.is_some() {
            "[content warning: masked]".to_string()
        } else {
            first
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(70)
                .collect()
        };
        println!("  {:<22} {:<10} {}", item.item_id, kind, preview);
    }
    if let Some(first) = store.queue()?.first() {
        let schema = store.item(*first)?.schema;
        println!("\nSchema {}: {}", schema.id, schema.title);
        for q in &schema.questions {
            let options: Vec<String> = q
                .options
                .iter()
                .map(|o| match &o.key {
                    Some(k) => format!("[{k}] {}", o.label),
                    None => o.label.clone(),
                })
                .collect();
            println!("  {:<26} {}", q.label, options.join("  "));
        }
    }
    println!(
        "\nThe labeling screen is not built yet; `verdict label` labels from the command line."
    );
    Ok(())
}
