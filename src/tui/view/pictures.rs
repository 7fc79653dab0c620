//! Images in the panes and full-screen, drawn by ratatui-image: the kitty, iTerm2 or sixel
//! protocol where the terminal speaks one, unicode half-blocks elsewhere (tmux, the
//! tests). Decoding and scaling happen once per item shown and size, in the view's memo.

use super::View;
use crate::model::{ImageBlob, ImageRef};
use crate::tui::state::State;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect, Size};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui_image::picker::Picker;
use ratatui_image::protocol::Protocol;
use ratatui_image::{FilterType, Image, Resize};
use std::collections::HashMap;
use std::rc::Rc;

/// Columns between two images side by side.
const GAP: u16 = 1;

/// Decoded images kept across items (going back and forth between two items decodes
/// nothing again).
const KEEP_DECODED: usize = 8;
/// The largest side, in pixels, of an image as kept for the screen.
const SCREEN_SIDE: u32 = 2048;

/// What drawing images remembers: the picker (the terminal's protocol and font size), the
/// last images decoded (made ready for the screen), and per item shown each image scaled
/// for a size.
pub struct Pictures {
    picker: Picker,
    shown: u64,
    /// Most recently used last.
    decoded: Vec<(String, Rc<Result<image::DynamicImage, String>>)>,
    scaled: HashMap<(String, u16, u16), Rc<Result<Protocol, String>>>,
}

impl std::fmt::Debug for Pictures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pictures({:?})", self.picker.protocol_type())
    }
}

impl Pictures {
    /// Half-blocks, which every terminal with colour shows.
    pub fn halfblocks() -> Pictures {
        Pictures::with(Picker::halfblocks())
    }

    /// With a picker found by asking the terminal ([`Picker::from_query_stdio`]).
    pub fn with(picker: Picker) -> Pictures {
        Pictures {
            picker,
            shown: 0,
            decoded: Vec::new(),
            scaled: HashMap::new(),
        }
    }

    fn forget_unless(&mut self, shown: u64) {
        if self.shown != shown {
            self.scaled.clear();
            self.shown = shown;
        }
    }

    /// Rows an image takes at `width` columns, its shape kept.
    fn rows_for(&self, blob: &ImageBlob, width: u16) -> u16 {
        let font = self.picker.font_size();
        let px_w = f64::from(width) * f64::from(font.width.max(1));
        let scale = px_w / f64::from(blob.width.max(1));
        let px_h = f64::from(blob.height) * scale;
        (px_h / f64::from(font.height.max(1))).ceil().max(1.0) as u16
    }

    fn protocol_for(&mut self, blob: &ImageBlob, size: Size) -> Rc<Result<Protocol, String>> {
        let key = (blob.image.sha256.clone(), size.width, size.height);
        if let Some(p) = self.scaled.get(&key) {
            return p.clone();
        }
        let sha = &blob.image.sha256;
        let decoded = match self.decoded.iter().position(|(s, _)| s == sha) {
            Some(i) => {
                let d = self.decoded.remove(i);
                self.decoded.push(d.clone());
                d.1
            }
            None => {
                let d = Rc::new(
                    crate::images::decode(&blob.bytes)
                        .map(|img| crate::images::for_screen(img, SCREEN_SIDE)),
                );
                self.decoded.push((sha.clone(), d.clone()));
                if self.decoded.len() > KEEP_DECODED {
                    self.decoded.remove(0);
                }
                d
            }
        };
        let made = match decoded.as_ref() {
            Ok(img) => self
                .picker
                .new_protocol(img.clone(), size, Resize::Scale(Some(FilterType::Triangle)))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        let made = Rc::new(made);
        self.scaled.insert(key, made.clone());
        made
    }
}

/// The item's image `r` stands for, and its number (1-based, in reading order).
fn find<'a>(state: &'a State, r: &ImageRef) -> Option<(usize, &'a ImageBlob)> {
    let item = state.item.as_ref()?;
    item.images
        .iter()
        .enumerate()
        .find(|(_, b)| &b.image == r)
        .map(|(i, b)| (i + 1, b))
}

/// Rows a strip of these images needs at `width` columns (captions included).
pub fn strip_rows(state: &State, view: &View, refs: &[ImageRef], width: u16) -> u16 {
    let n = refs.len() as u16;
    if n == 0 {
        return 0;
    }
    let col = (width.saturating_sub(GAP * (n - 1)) / n).max(1);
    refs.iter()
        .filter_map(|r| find(state, r))
        .map(|(_, b)| view.pictures.rows_for(b, col))
        .max()
        .unwrap_or(1)
        + 1
}

/// Draws images side by side in `area`, each fitted to its column with a caption under it
/// (`[2] 451x300 PNG, 235 KB`).
pub fn strip(f: &mut Frame<'_>, state: &State, view: &mut View, area: Rect, refs: &[ImageRef]) {
    if refs.is_empty() || area.height < 2 || area.width < 4 {
        return;
    }
    view.pictures.forget_unless(state.shown);
    let blobs: Vec<&ImageBlob> = refs
        .iter()
        .filter_map(|r| find(state, r).map(|f| f.1))
        .collect();
    let (cols, rows) = grid(&view.pictures, &blobs, area);
    let row_areas = Layout::vertical(
        (0..rows)
            .map(|_| Constraint::Ratio(1, rows))
            .collect::<Vec<_>>(),
    )
    .split(area);
    let cells: Vec<Rect> = row_areas
        .iter()
        .flat_map(|row| {
            Layout::horizontal(
                (0..cols)
                    .map(|_| Constraint::Ratio(1, cols))
                    .collect::<Vec<_>>(),
            )
            .spacing(GAP)
            .split(*row)
            .to_vec()
        })
        .collect();
    for (r, col) in refs.iter().zip(cells.iter()) {
        let Some((number, blob)) = find(state, r) else {
            continue;
        };
        let [picture, caption] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(*col);
        draw(f, view, blob, picture);
        let text = format!("[{number}] {}", crate::images::caption(blob));
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(
                crate::tui::text::truncate(&text, caption.width as usize),
                view.theme.dim,
            ))),
            caption,
        );
    }
}

/// The grid (columns, rows) that shows these images largest in `area`: the one whose
/// smallest image, fitted with its shape kept, is largest (six images in a tall pane go
/// two or three a row, not six thumbnails in one).
fn grid(pictures: &Pictures, blobs: &[&ImageBlob], area: Rect) -> (u32, u32) {
    let n = blobs.len().max(1) as u32;
    let mut best = (n, 1, 0u64);
    for cols in 1..=n {
        let rows = n.div_ceil(cols);
        let cw = (area.width.saturating_sub(GAP * (cols as u16 - 1))) / cols as u16;
        let ch = (area.height / rows as u16).saturating_sub(1);
        if cw == 0 || ch == 0 {
            continue;
        }
        let smallest = blobs
            .iter()
            .map(|b| {
                let h = pictures.rows_for(b, cw);
                if h <= ch {
                    u64::from(cw) * u64::from(h)
                } else {
                    // Narrower, to fit the height.
                    u64::from(cw) * u64::from(ch) * u64::from(ch) / u64::from(h)
                }
            })
            .min()
            .unwrap_or(0);
        if smallest > best.2 {
            best = (cols, rows, smallest);
        }
    }
    (best.0, best.1)
}

/// Draws one image fitted (shape kept) and centred in `area`.
fn draw(f: &mut Frame<'_>, view: &mut View, blob: &ImageBlob, area: Rect) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let made = view
        .pictures
        .protocol_for(blob, Size::new(area.width, area.height));
    match made.as_ref() {
        Ok(p) => {
            let size = p.size();
            let x = area.x + area.width.saturating_sub(size.width) / 2;
            let y = area.y + area.height.saturating_sub(size.height) / 2;
            let at = Rect::new(
                x,
                y,
                size.width.min(area.width),
                size.height.min(area.height),
            );
            f.render_widget(Image::new(p), at);
        }
        Err(e) => f.render_widget(
            Paragraph::new(format!("This image cannot be shown: {e}"))
                .style(view.theme.warning)
                .wrap(Wrap { trim: true }),
            area,
        ),
    }
}

/// The image at `index` full-screen, over everything but the status line.
pub fn full(f: &mut Frame<'_>, state: &State, view: &mut View, area: Rect, index: usize) {
    let Some(item) = &state.item else { return };
    let Some(blob) = item.images.get(index) else {
        return;
    };
    view.pictures.forget_unless(state.shown);
    let where_ = where_shown(state, &blob.image);
    let keys = format!(
        "{}/→ next · ← previous · esc back",
        state.keymap.key_of(crate::tui::action::Command::ViewImage)
    );
    let title = super::fit_title(
        &[
            (format!("Image {} of {}", index + 1, item.images.len()), 0),
            (where_, 1),
            (crate::images::caption(blob), 2),
            (keys, 1),
        ],
        area.width.saturating_sub(4) as usize,
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {title} "))
        .border_style(view.theme.overlay);
    let inner = block.inner(area);
    f.render_widget(Clear, area);
    f.render_widget(block, area);
    draw(f, view, blob, inner);
}

/// Where an image appears: "prompt", "response A", ...
fn where_shown(state: &State, r: &ImageRef) -> String {
    let Some(item) = &state.item else {
        return String::new();
    };
    let mut places = Vec::new();
    if item
        .content
        .conversation
        .iter()
        .any(|m| m.images.contains(r))
    {
        places.push(if item.content.conversation.len() == 1 {
            "prompt".to_string()
        } else {
            "conversation".to_string()
        });
    }
    for (i, resp) in item.content.responses.iter().enumerate() {
        if resp.images.contains(r) {
            places.push(match (item.content.is_pairwise(), i) {
                (false, _) => "response".into(),
                (true, 0) => "response A".into(),
                (true, _) => "response B".into(),
            });
        }
    }
    places.join(", ")
}

/// The images of some turns or responses, in order; an image given twice is shown twice
/// (a model that returns the same image twice is something to see).
pub fn all<'a>(refs: impl Iterator<Item = &'a ImageRef>) -> Vec<ImageRef> {
    refs.cloned().collect()
}
