//! Image items on the workstation, without a terminal: the half-block rendering (a
//! snapshot of the picture as drawn, pixel pairs by colour), the panes' layout with
//! images, full-screen viewing, a pair's images side by side, and masking.
#![allow(clippy::unwrap_used)]

mod common;
use common::quadrants_png;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use verdict::store::Store;
use verdict::tui::action::{Action, Command};
use verdict::tui::app::App;
use verdict::tui::keymap::Keymap;
use verdict::tui::state::{Overlay, Settings};

/// A cache with an image batch: a text-to-image item, a pair, a masked image, a text item.
fn app(size: (u16, u16)) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("q.png"), quadrants_png(64, 48, 0)).unwrap();
    // The other way round: blue/white on top, red/green below.
    let flipped = image::imageops::flip_vertical(
        &image::load_from_memory(&quadrants_png(64, 48, 0))
            .unwrap()
            .to_rgb8(),
    );
    flipped.save(dir.path().join("flipped.png")).unwrap();
    // Black on the left, transparent on the right.
    image::RgbaImage::from_fn(64, 48, |x, _| {
        if x < 32 {
            image::Rgba([0, 0, 0, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    })
    .save(dir.path().join("alpha.png"))
    .unwrap();
    let lines = [
        r#"{"manifest": {"format": "verdict-batch/1", "batch_id": "img", "schema": "image-eval-v1"}}"#.to_string(),
        serde_json::json!({"id": "t2i", "prompt": "Four squares: red, green, blue, white.", "responses": [{"model": "m", "images": [{"path": "q.png"}]}]}).to_string(),
        serde_json::json!({"id": "pair", "prompt": "Four squares.", "responses": [{"model": "a", "images": [{"path": "q.png"}]}, {"model": "b", "images": [{"path": "flipped.png"}]}]}).to_string(),
        serde_json::json!({"id": "masked", "prompt": "Four squares.", "responses": [{"images": [{"path": "q.png"}]}], "content_warning": "test warning"}).to_string(),
        serde_json::json!({"id": "text", "prompt": "No picture here.", "responses": ["Just text."]}).to_string(),
        serde_json::json!({"id": "dup", "prompt": "Two squares.", "responses": [{"images": [{"path": "q.png"}, {"path": "q.png"}]}]}).to_string(),
        serde_json::json!({"id": "alpha", "prompt": "Half transparent.", "responses": [{"images": [{"path": "alpha.png"}]}]}).to_string(),
        serde_json::json!({"id": "six", "prompt": "Six variations.", "responses": [{"images": [{"path": "q.png"}, {"path": "flipped.png"}, {"path": "q.png"}, {"path": "flipped.png"}, {"path": "q.png"}, {"path": "flipped.png"}]}]}).to_string(),
        serde_json::json!({"id": "empty", "prompt": "Say nothing.", "responses": [{"text": ""}], "content_warning": true}).to_string(),
    ];
    std::fs::write(dir.path().join("b.jsonl"), lines.join("\n")).unwrap();
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    let mut b = verdict::batch::open(&dir.path().join("b.jsonl"), Default::default()).unwrap();
    store.import(&mut b, "test", |_| {}).unwrap();
    let app = App::new(
        store,
        Keymap::load(None).unwrap(),
        Settings::default(),
        size,
    )
    .unwrap();
    (dir, app)
}

fn goto(app: &mut App, id: &str) {
    let pos = app.state.queue.iter().position(|e| e.id == id).unwrap();
    let fx = verdict::tui::update::go_to(&mut app.state, pos);
    app.run(fx);
}

fn draw(app: &mut App, w: u16, h: u16) -> Buffer {
    common::frozen_frame(app, w, h)
}

fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The nearest of the test picture's colours: R G B W, or K for black, `.` for anything
/// that is not a picture cell.
fn letter(c: Color) -> char {
    let Color::Rgb(r, g, b) = c else { return '.' };
    let palette = [
        ('R', (255, 0, 0)),
        ('G', (0, 255, 0)),
        ('B', (0, 0, 255)),
        ('W', (255, 255, 255)),
        ('K', (0, 0, 0)),
    ];
    let d = |(pr, pg, pb): (i32, i32, i32)| {
        (i32::from(r) - pr).pow(2) + (i32::from(g) - pg).pow(2) + (i32::from(b) - pb).pow(2)
    };
    palette.iter().min_by_key(|(_, p)| d(*p)).unwrap().0
}

/// The picture as drawn in half-blocks: two rows of letters per terminal row (the upper
/// and lower half of each cell), for the cells that carry a colour.
fn pixels(buf: &Buffer) -> Vec<String> {
    let mut out = Vec::new();
    for y in 0..buf.area.height {
        let (mut top, mut bottom) = (String::new(), String::new());
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            let (t, b) = match c.symbol() {
                "▀" => (letter(c.fg), letter(c.bg)),
                "▄" => (letter(c.bg), letter(c.fg)),
                "█" => (letter(c.fg), letter(c.fg)),
                " " if matches!(c.bg, Color::Rgb(..)) => (letter(c.bg), letter(c.bg)),
                _ => ('.', '.'),
            };
            top.push(t);
            bottom.push(b);
        }
        for row in [top, bottom] {
            let row = row.trim_matches('.').to_string();
            if !row.is_empty() {
                out.push(row);
            }
        }
    }
    out
}

/// Cells that carry a picture's colour (a half-block, or a space whose background is the
/// colour of both halves).
fn picture_cells(buf: &Buffer) -> usize {
    buf.content()
        .iter()
        .filter(|c| {
            matches!(c.bg, Color::Rgb(..))
                || (matches!(c.symbol(), "▀" | "▄" | "█") && matches!(c.fg, Color::Rgb(..)))
        })
        .count()
}

#[test]
fn snapshot_an_image_item_in_half_blocks() {
    let (_d, mut app) = app((100, 32));
    goto(&mut app, "t2i");
    let buf = draw(&mut app, 100, 32);
    insta::assert_snapshot!("image_item_100x32", text(&buf));
    // The picture itself, pixel pair by pixel pair: red and green above blue and white,
    // the shape of the 64x48 picture kept.
    insta::assert_snapshot!("image_item_pixels", pixels(&buf).join("\n"));
    // (K: the picture's own black corner pixel, or the padding of a cell it half covers.)
    let px: Vec<String> = pixels(&buf)
        .iter()
        .map(|r| r.trim_end_matches('K').to_string())
        .collect();
    assert!(px.first().unwrap().starts_with('R') && px.first().unwrap().ends_with('G'));
    assert!(px.last().unwrap().starts_with('B') && px.last().unwrap().ends_with('W'));
    let width = px[0].len();
    assert!((40..=50).contains(&width), "{width} pixels across");
    // 64x48 drawn 4:3, at two pixels a cell down and one across (a cell is 1:2).
    let ratio = width as f64 / px.len() as f64;
    assert!(
        (1.2..1.45).contains(&ratio),
        "{width}x{} keeps the shape",
        px.len()
    );
}

#[test]
fn a_pair_shows_its_two_images_side_by_side() {
    let (_d, mut app) = app((120, 36));
    goto(&mut app, "pair");
    let buf = draw(&mut app, 120, 36);
    insta::assert_snapshot!("image_pair_120x36", text(&buf));
    let px = pixels(&buf);
    // A's picture (red/green on top) on the left, B's (flipped: blue/white on top) on the
    // right, on the same rows.
    let top = px.first().unwrap();
    let (left, right) = top
        .split_once('.')
        .expect("two pictures with a gap between");
    let (left, right) = (
        left.trim_end_matches('K'),
        right.trim_start_matches('.').trim_end_matches('K'),
    );
    assert!(left.starts_with('R') && left.ends_with('G'), "{top}");
    assert!(right.starts_with('B') && right.ends_with('W'), "{top}");
}

#[test]
fn a_masked_item_draws_no_image_until_revealed() {
    let (_d, mut app) = app((100, 32));
    goto(&mut app, "masked");
    let buf = draw(&mut app, 100, 32);
    assert_eq!(picture_cells(&buf), 0, "nothing of the image is drawn");
    assert!(text(&buf).contains("The text and the image are hidden. Press R to reveal"));
    // Full-screen is refused too, and says why.
    app.dispatch(Action::Run(Command::ViewImage));
    assert_eq!(app.state.overlay(), None);
    assert!(
        app.state
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("reveal them first (R)")
    );
    app.dispatch(Action::Run(Command::Reveal));
    let buf = draw(&mut app, 100, 32);
    assert!(
        picture_cells(&buf) > 100,
        "the image is drawn once revealed"
    );
}

#[test]
fn v_shows_each_image_full_screen_and_esc_comes_back() {
    let (_d, mut app) = app((100, 32));
    goto(&mut app, "pair");
    let key = |c: KeyCode| KeyEvent::new(c, KeyModifiers::NONE);
    let press = |app: &mut App, c: KeyCode| {
        let a = verdict::tui::resolve(&app.state, &key(c)).unwrap();
        app.dispatch(a);
    };
    press(&mut app, KeyCode::Char('V'));
    assert_eq!(app.state.overlay(), Some(&Overlay::Image(0)));
    let buf = draw(&mut app, 100, 32);
    let t = text(&buf);
    assert!(t.contains("Image 1 of 2 · response A · 64x48 PNG"), "{t}");
    // Full-screen is bigger than in the pane.
    let full = picture_cells(&buf);
    press(&mut app, KeyCode::Char('V'));
    assert_eq!(app.state.overlay(), Some(&Overlay::Image(1)));
    assert!(text(&draw(&mut app, 100, 32)).contains("Image 2 of 2 · response B"));
    press(&mut app, KeyCode::Right);
    assert_eq!(app.state.overlay(), Some(&Overlay::Image(0)), "wraps round");
    press(&mut app, KeyCode::Left);
    assert_eq!(app.state.overlay(), Some(&Overlay::Image(1)));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.state.overlay(), None);
    let pane = picture_cells(&draw(&mut app, 100, 32));
    assert!(full > pane * 2, "full-screen {full} cells, panes {pane}");
    insta::assert_snapshot!("image_full_screen_80x24", {
        press(&mut app, KeyCode::Char('V'));
        text(&draw(&mut app, 80, 24))
    });

    // A text item has nothing to show, and says so.
    goto(&mut app, "text");
    press(&mut app, KeyCode::Esc);
    app.dispatch(Action::Run(Command::ViewImage));
    assert_eq!(app.state.overlay(), None);
    assert_eq!(
        app.state.message.as_ref().unwrap().text,
        "this item has no image"
    );
}

#[test]
fn images_at_80x24_leave_the_labels_and_text_their_room() {
    let (_d, mut app) = app((80, 24));
    goto(&mut app, "t2i");
    let buf = draw(&mut app, 80, 24);
    insta::assert_snapshot!("image_item_80x24", text(&buf));
    let t = text(&buf);
    assert!(t.contains("Prompt adherence"), "{t}");
    assert!(t.contains("[1] 64x48 PNG"), "{t}");
}

#[test]
fn a_masked_item_takes_no_answer_until_revealed() {
    let (_d, mut app) = app((100, 32));
    goto(&mut app, "masked");
    let press = |app: &mut App, c: KeyCode| {
        if let Some(a) = verdict::tui::resolve(&app.state, &KeyEvent::new(c, KeyModifiers::NONE)) {
            app.dispatch(a);
        }
    };
    for k in [
        KeyCode::Char('3'),
        KeyCode::Char(' '),
        KeyCode::Enter,
        KeyCode::Char('='),
    ] {
        press(&mut app, k);
        let item = app.state.item.as_ref().unwrap();
        assert_eq!(item.item_id, "masked", "still on the item");
        assert!(
            item.annotation.answers.is_empty(),
            "{k:?} answered a masked item"
        );
        assert_eq!(item.annotation.status, verdict::model::Status::Draft);
        assert!(
            app.state
                .message
                .as_ref()
                .unwrap()
                .text
                .contains("reveal it (R) to judge it, or skip it (S)"),
            "{:?}",
            app.state.message
        );
    }
    app.dispatch(Action::Run(Command::Reveal));
    press(&mut app, KeyCode::Char('3'));
    assert!(
        !app.state
            .item
            .as_ref()
            .unwrap()
            .annotation
            .answers
            .is_empty()
    );
}

#[test]
fn an_answer_typed_in_the_full_screen_view_is_kept() {
    let (_d, mut app) = app((100, 32));
    goto(&mut app, "t2i");
    app.dispatch(Action::Run(Command::ViewImage));
    assert_eq!(app.state.overlay(), Some(&Overlay::Image(0)));
    let a = verdict::tui::resolve(
        &app.state,
        &KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE),
    )
    .unwrap();
    app.dispatch(a);
    assert_eq!(app.state.overlay(), None, "the view closed");
    assert_eq!(
        app.state
            .item
            .as_ref()
            .unwrap()
            .annotation
            .answers
            .get("adherence"),
        Some(&verdict::model::Answer::One("2".into())),
        "and the answer was taken"
    );
}

#[test]
fn what_a_pane_shows_is_what_the_item_holds() {
    let (_d, mut app) = app((100, 32));
    // The same image twice is shown twice.
    goto(&mut app, "dup");
    let t = text(&draw(&mut app, 100, 32));
    assert_eq!(t.matches("[1] 64x48 PNG").count(), 2, "{t}");
    // Six images in a tall pane: a grid, not six thumbnails in a row.
    goto(&mut app, "six");
    let t = text(&draw(&mut app, 100, 32));
    let caption_rows = t.lines().filter(|l| l.contains("64x48 PNG")).count();
    assert!(caption_rows >= 2, "{t}");
    assert_eq!(t.matches("64x48 PNG").count(), 6, "{t}");
    // Transparency over a light ground, not black.
    goto(&mut app, "alpha");
    let buf = draw(&mut app, 100, 32);
    let px = pixels(&buf);
    assert!(px[px.len() / 2].starts_with('K'), "black half: {px:?}");
    assert!(
        px[px.len() / 2].trim_end_matches('K').ends_with('W'),
        "light half: {px:?}"
    );
    // A response with nothing in it says so (once revealed); `content_warning: true`
    // is said once.
    goto(&mut app, "empty");
    let t = text(&draw(&mut app, 100, 32));
    assert!(
        t.contains("⚠ Content warning ") && !t.contains("Content warning: Content warning"),
        "{t}"
    );
    assert!(t.contains("The text is hidden"), "{t}");
    app.dispatch(Action::Run(Command::Reveal));
    let t = text(&draw(&mut app, 100, 32));
    assert!(t.contains("(empty response: no text and no image)"), "{t}");
}
