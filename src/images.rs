//! Image files of image items: what a batch may carry (PNG, JPEG, WebP, within size
//! limits), checked by decoding them whole before anything is stored, and `data:` URLs.
//! Format: docs/batch-format.md, "Images".

use crate::model::{ImageBlob, ImageRef, sha256_hex};
use base64::Engine;

/// Default limit on one image file, in bytes.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// Default limit on the images of one batch (each distinct image counted once), in bytes.
pub const DEFAULT_MAX_BATCH_IMAGE_BYTES: u64 = 200 * 1024 * 1024;
/// Largest width or height accepted, in pixels: a small file can claim a huge canvas (a
/// "decompression bomb"), and a rater's screen shows a few hundred pixels at most.
pub const MAX_SIDE: u32 = 12_000;
/// Most memory one decode may take.
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// The image formats an item may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Portable Network Graphics.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
}

impl Kind {
    /// The media type (`image/png`, ...).
    pub fn media_type(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Webp => "image/webp",
        }
    }

    /// The short name shown to a rater (`PNG`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Png => "PNG",
            Kind::Jpeg => "JPEG",
            Kind::Webp => "WebP",
        }
    }

    /// The kind a media type names.
    pub fn of_media_type(t: &str) -> Option<Kind> {
        match t.to_ascii_lowercase().as_str() {
            "image/png" => Some(Kind::Png),
            "image/jpeg" | "image/jpg" => Some(Kind::Jpeg),
            "image/webp" => Some(Kind::Webp),
            _ => None,
        }
    }

    /// What the file's first bytes say it is (never its name).
    pub fn sniff(bytes: &[u8]) -> Option<Kind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Kind::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Kind::Webp)
        } else {
            None
        }
    }

    fn format(self) -> image::ImageFormat {
        match self {
            Kind::Png => image::ImageFormat::Png,
            Kind::Jpeg => image::ImageFormat::Jpeg,
            Kind::Webp => image::ImageFormat::WebP,
        }
    }
}

fn limits() -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MAX_DECODE_ALLOC);
    l
}

/// Why bytes are no image verdict reads, naming the formats it can tell.
fn not_an_image(bytes: &[u8]) -> String {
    let other = if bytes.starts_with(b"GIF8") {
        Some("GIF")
    } else if bytes.starts_with(b"BM") {
        Some("BMP")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("TIFF")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some("HEIC or AVIF")
    } else if bytes.starts_with(b"<svg") || bytes.starts_with(b"<?xml") {
        Some("SVG")
    } else {
        None
    };
    match other {
        Some(f) => format!("a {f} file: verdict reads PNG, JPEG and WebP; convert it to PNG"),
        None => "not a PNG, JPEG or WebP file (its first bytes are no image signature); convert it to PNG".to_string(),
    }
}

/// Decodes an image file whole (with limits on its size in pixels and memory), turned
/// upright as its EXIF orientation says (a phone's photo is stored sideways).
pub fn decode(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    use image::ImageDecoder;
    let kind = Kind::sniff(bytes).ok_or_else(|| not_an_image(bytes))?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), kind.format());
    reader.limits(limits());
    let decoded = reader.into_decoder().and_then(|mut d| {
        let orientation = d
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img = image::DynamicImage::from_decoder(d)?;
        img.apply_orientation(orientation);
        Ok(img)
    });
    decoded.map_err(|e| match e {
        image::ImageError::Limits(_) => format!(
            "the {} is larger than {MAX_SIDE}x{MAX_SIDE} pixels (or needs more than {} MB to decode); scale it down",
            kind.name(),
            MAX_DECODE_ALLOC / 1024 / 1024
        ),
        e => format!(
            "the {} file is damaged or truncated and cannot be decoded ({e}); export it again",
            kind.name()
        ),
    })
}

/// Checks image bytes against the per-image limit and by decoding them, and names them.
pub fn check(bytes: Vec<u8>, max_bytes: u64) -> Result<ImageBlob, String> {
    if bytes.len() as u64 > max_bytes {
        return Err(format!(
            "the image is {} bytes, over the limit of {max_bytes} bytes for one image; make it smaller, or raise the limit with --max-image-bytes",
            bytes.len()
        ));
    }
    let kind = Kind::sniff(&bytes).ok_or_else(|| not_an_image(&bytes))?;
    let img = decode(&bytes)?;
    Ok(ImageBlob {
        image: ImageRef {
            media_type: kind.media_type().to_string(),
            sha256: sha256_hex(&bytes),
        },
        width: img.width(),
        height: img.height(),
        bytes: bytes.into(),
    })
}

/// The bytes of a `data:` URL (`data:image/png;base64,...`) and the media type it
/// declares.
pub fn data_url(url: &str) -> Result<(String, Vec<u8>), String> {
    let rest = url
        .strip_prefix("data:")
        .ok_or("not a data: URL; give a data: URL or a path")?;
    let (head, data) = rest
        .split_once(',')
        .ok_or("a data: URL needs a comma before its data")?;
    let Some(media) = head.strip_suffix(";base64") else {
        return Err("only base64 data: URLs are read (data:image/png;base64,...)".into());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("the data: URL's base64 is invalid ({e})"))?;
    Ok((media.to_string(), bytes))
}

/// A `data:` URL of an image's bytes (how the hub sends images with the items it leases).
pub fn to_data_url(media_type: &str, bytes: &[u8]) -> String {
    format!(
        "data:{media_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The image as drawn on a screen: transparent parts over a light checkerboard (as image
/// viewers show them; black text on a transparent ground would be black on black), and no
/// larger than `max` pixels on a side (a screen shows a few hundred; scaling a 4000-pixel
/// photo for every frame size would cost a second).
pub fn for_screen(img: image::DynamicImage, max: u32) -> image::DynamicImage {
    let img = if img.width() > max || img.height() > max {
        img.thumbnail(max, max)
    } else {
        img
    };
    if !img.color().has_alpha() {
        return img;
    }
    let rgba = img.to_rgba8();
    let flat = image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let ground: u16 = if ((x / 8) + (y / 8)) % 2 == 0 {
            255
        } else {
            204
        };
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + ground * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    });
    image::DynamicImage::ImageRgb8(flat)
}

/// The caption of an image: `512x384 PNG, 240 KB`.
pub fn caption(blob: &ImageBlob) -> String {
    let kind = Kind::of_media_type(&blob.image.media_type)
        .map(Kind::name)
        .unwrap_or("image");
    let size = blob.bytes.len();
    let size = if size >= 1024 * 1024 {
        format!("{:.1} MB", size as f64 / 1024.0 / 1024.0)
    } else {
        format!("{} KB", size.div_ceil(1024))
    };
    format!("{}x{} {kind}, {size}", blob.width, blob.height)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_png_is_named_by_its_bytes() {
        let bytes = png(3, 2);
        let b = check(bytes.clone(), 1 << 20).unwrap();
        assert_eq!(b.image.media_type, "image/png");
        assert_eq!(b.image.sha256, sha256_hex(&bytes));
        assert_eq!((b.width, b.height), (3, 2));
    }

    #[test]
    fn damaged_files_and_strangers_are_refused() {
        let mut bytes = png(40, 40);
        bytes.truncate(bytes.len() / 2);
        let e = check(bytes, 1 << 20).unwrap_err();
        assert!(e.contains("damaged or truncated"), "{e}");
        let e = check(b"\x00\x01 nothing".to_vec(), 1 << 20).unwrap_err();
        assert!(e.contains("not a PNG, JPEG or WebP"), "{e}");
        let e = check(png(40, 40), 10).unwrap_err();
        assert!(e.contains("over the limit of 10 bytes"), "{e}");
    }

    #[test]
    fn a_huge_canvas_in_a_small_file_is_refused() {
        // A valid PNG header claiming 20000x20000 pixels: refused before it is decoded.
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        let e = decode(&bytes).unwrap_err();
        assert!(e.contains("larger than 12000x12000"), "{e}");
    }

    #[test]
    fn transparency_is_drawn_over_a_light_ground() {
        // Black text on a transparent ground: not black on black.
        let img = image::RgbaImage::from_fn(16, 16, |x, _| {
            if x < 8 {
                image::Rgba([0, 0, 0, 255])
            } else {
                image::Rgba([0, 0, 0, 0])
            }
        });
        let flat = for_screen(image::DynamicImage::ImageRgba8(img), 100).to_rgb8();
        assert_eq!(flat.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(flat.get_pixel(9, 0).0, [204, 204, 204]);
        assert_eq!(flat.get_pixel(9, 9).0, [255, 255, 255]);
        let big = image::DynamicImage::ImageRgb8(image::RgbImage::new(4000, 2000));
        let small = for_screen(big, 2048);
        assert_eq!((small.width(), small.height()), (2048, 1024));
    }

    #[test]
    fn a_photo_stored_sideways_is_turned_upright() {
        // A 40x20 JPEG with an EXIF orientation of 6 ("rotate 90 clockwise").
        let img = image::RgbImage::from_fn(40, 20, |x, _| image::Rgb([(x * 6) as u8, 0, 0]));
        let mut jpeg = std::io::Cursor::new(Vec::new());
        img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        let jpeg = jpeg.into_inner();
        let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
        exif.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&exif);
        out.extend_from_slice(&jpeg[2..]);
        let b = check(out, 1 << 20).unwrap();
        assert_eq!((b.width, b.height), (20, 40), "upright: taller than wide");
    }

    #[test]
    fn other_formats_are_named() {
        assert!(
            check(b"GIF89a....".to_vec(), 1 << 20)
                .unwrap_err()
                .contains("a GIF file")
        );
        assert!(
            check(b"BM........".to_vec(), 1 << 20)
                .unwrap_err()
                .contains("a BMP file")
        );
    }

    #[test]
    fn data_urls_round_trip() {
        let bytes = png(2, 2);
        let url = to_data_url("image/png", &bytes);
        assert_eq!(data_url(&url).unwrap(), ("image/png".to_string(), bytes));
        assert!(data_url("data:image/png,abc").is_err());
        assert!(data_url("data:image/png;base64,!!!").is_err());
    }
}
