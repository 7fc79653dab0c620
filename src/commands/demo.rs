//! `verdict demo`: the workstation on the shipped demo batch, in a throwaway cache.

use super::Env;
use crate::batch::Options;
use crate::store::Store;

/// The demo batch (built from public data; see assets/demo/README.md).
pub const DEMO_BATCH: &str = include_str!("../../assets/demo/demo.jsonl");

/// The demo's image batch and its images (public domain and CC0; see
/// assets/demo/images/README.md), written beside it as the batch's paths say.
pub const DEMO_IMAGE_BATCH: &str = include_str!("../../assets/demo/demo-images.jsonl");
const DEMO_IMAGES: &[(&str, &[u8])] = &[
    (
        "chelsea.png",
        include_bytes!("../../assets/demo/images/chelsea.png"),
    ),
    (
        "coffee.png",
        include_bytes!("../../assets/demo/images/coffee.png"),
    ),
    (
        "rocket.jpg",
        include_bytes!("../../assets/demo/images/rocket.jpg"),
    ),
];

/// Pulls the demo batch into a temporary data directory and opens the workstation on it;
/// the rater's own cache is not touched. Without a terminal, lists the demo queue.
pub fn run(env: &Env) -> anyhow::Result<()> {
    // A new private folder with an unguessable name, created exclusively (never one
    // someone else made first, or a link they planted).
    let dir = std::env::temp_dir().join(format!("verdict-demo-{}", uuid::Uuid::new_v4()));
    crate::private::create_dir_new(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create the demo folder {}: {e}", dir.display()))?;
    let result = demo(env, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn demo(env: &Env, dir: &std::path::Path) -> anyhow::Result<()> {
    let file = dir.join("demo.jsonl");
    std::io::Write::write_all(
        &mut crate::private::create_new(&file)?,
        DEMO_BATCH.as_bytes(),
    )?;
    let images = dir.join("images");
    crate::private::create_dir_new(&images)?;
    for (name, bytes) in DEMO_IMAGES {
        std::io::Write::write_all(&mut crate::private::create_new(&images.join(name))?, bytes)?;
    }
    let image_file = dir.join("demo-images.jsonl");
    std::io::Write::write_all(
        &mut crate::private::create_new(&image_file)?,
        DEMO_IMAGE_BATCH.as_bytes(),
    )?;
    let mut store = Store::open(&dir.join("data"))?;
    let report = super::pull::pull_file(&mut store, &file, Options::default())?;
    let image_report = super::pull::pull_file(&mut store, &image_file, Options::default())?;
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        return super::open::session(env, store, true);
    }
    crate::outln!(
        "verdict demo: batches {} ({} items) and {} ({} image items), in a throwaway cache (run it in a terminal to label them).\n",
        report.batch_id,
        report.added,
        image_report.batch_id,
        image_report.added
    );
    for key in store.queue()? {
        let item = store.item(key)?;
        let images = item.content.images().count();
        let kind = if images > 0 && item.content.is_pairwise() {
            "image pair"
        } else if images > 0 {
            "image"
        } else if item.content.is_pairwise() {
            "pairwise"
        } else if item.content.conversation.len() > 1 {
            "multi-turn"
        } else {
            "single"
        };
        let preview: String = if item.extras.content_warning.is_some() {
            "[content warning: masked]".to_string()
        } else {
            let first = item
                .content
                .conversation
                .iter()
                .find(|m| m.role == crate::model::Role::User)
                .map(|m| m.content.as_str())
                .unwrap_or_default();
            crate::tui::text::sanitize_line(&first.replace('\n', " "))
                .chars()
                .take(70)
                .collect()
        };
        crate::outln!("  {:<22} {:<10} {}", item.item_id, kind, preview);
    }
    Ok(())
}
