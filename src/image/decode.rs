//! File bytes → 8-bit RGB, the way `PIL.Image.open` + `ImageOps.exif_transpose` + transformers'
//! `convert_to_rgb` see them.
//!
//! - PNG, JPEG, WebP, GIF (first frame), BMP and TIFF (first page); [`super::convert`] says how each pixel
//!   layout becomes RGB (alpha on white, 16-bit samples as Pillow reduces them);
//! - JPEGs are decoded by [`super::jpeg`], byte-identical to Pillow's libjpeg-turbo (CMYK/YCCK included, with
//!   Pillow's `cmyk2rgb`); the image crate's zune-jpeg is the fallback for variants it does not cover;
//! - the EXIF / XMP orientation is found where Pillow finds it ([`super::orientation`]) and applied;
//! - a GIF without any colour table is read as grayscale, as Pillow does ([`super::gif`]);
//! - HEIC, AVIF, JPEG XL, SVG, PDF and video files are named in the error ([`super::sniff`]).
//!
//! Sizes are checked against [`MAX_SIDE`] and [`MAX_PIXELS`] from the header, before any pixel buffer exists,
//! and the decoders get `image::Limits` so no header can make them allocate more than [`MAX_ALLOC`] bytes.

use std::io::Cursor;

use image::error::{ImageError, LimitErrorKind};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use super::convert::{to_rgb8, Quirks};
use crate::error::{Error, Result};

/// Largest accepted width or height.
pub const MAX_SIDE: u32 = 16384;
/// Largest accepted width x height.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Most bytes a decoder may allocate: a MAX_PIXELS image as RGBA with 16-bit samples is 800 MB.
pub const MAX_ALLOC: u64 = 1 << 30;

const SUPPORTED: &str = "webclip reads PNG, JPEG, WebP, GIF, BMP and TIFF";

/// Decode a PNG, JPEG, WebP, GIF, BMP or TIFF file to 8-bit RGB (see the module docs for each conversion).
/// `source_name` (a file name, URL or "clipboard") is only used in error messages.
pub fn decode(bytes: &[u8], source_name: &str) -> Result<RgbImage> {
    let fail = |detail: String| Error::image(source_name, detail);
    if bytes.is_empty() {
        return Err(fail("the file is empty (0 bytes). Choose the image file again.".into()));
    }
    if let Some(why) = super::sniff::unsupported(bytes, SUPPORTED) {
        return Err(fail(why));
    }
    // BigTIFF ("II+\0", "MM\0+"), which the image crate's guess misses but its TIFF decoder reads.
    let bigtiff = bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+");
    let guessed = if bigtiff { Some(ImageFormat::Tiff) } else { image::guess_format(bytes).ok() };
    let format = match guessed {
        Some(
            f @ (ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Gif
            | ImageFormat::Bmp
            | ImageFormat::Tiff),
        ) => f,
        Some(other) => {
            let name = format!("{other:?}").to_uppercase();
            return Err(fail(format!("{name} images are not supported; {SUPPORTED}. Convert it to PNG or JPEG.")));
        }
        None => {
            let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return Err(fail(format!(
                "not an image file: its first bytes ({}) match no known image format; {SUPPORTED}. \
                 Check that this is the file you meant.",
                head.join(" ")
            )));
        }
    };
    // Where Pillow finds the orientation (EXIF, ImageMagick's PNG raw profile, XMP, TIFF tags); a damaged EXIF
    // block is no reason to refuse the pixels.
    let orientation = super::orientation::orientation(bytes, format);
    let quirks = match format {
        ImageFormat::Png => Quirks::png(bytes),
        ImageFormat::Tiff => {
            let layout = super::exif::tiff_layout(bytes);
            if layout.tiled_planar {
                return Err(fail(
                    "this TIFF stores its tiles with one plane per colour (PlanarConfiguration 2), which webclip \
                     cannot decode. Re-save it as PNG or JPEG, or as a TIFF with interleaved (contiguous) samples."
                        .into(),
                ));
            }
            // Pillow: 16-bit grayscale TIFFs are I;16 / I;16B too; ExtraSamples 1 is its "RGBa" rawmode.
            Quirks { gray16_clamps: true, premultiplied: layout.associated_alpha }
        }
        _ => Quirks::default(),
    };
    let img = match format {
        ImageFormat::Jpeg => decode_jpeg(bytes),
        ImageFormat::Gif => match super::gif::with_gray_palette(bytes) {
            Some(patched) => decode_with_image(&patched, format),
            None => decode_with_image(bytes, format),
        },
        _ => decode_with_image(bytes, format),
    }
    .map_err(&fail)?;
    let mut rgb = DynamicImage::ImageRgb8(to_rgb8(img, quirks));
    rgb.apply_orientation(orientation);
    Ok(rgb.into_rgb8())
}

/// The image crate's decoder for `format`, with webclip's size and memory limits.
fn decode_with_image(bytes: &[u8], format: ImageFormat) -> std::result::Result<DynamicImage, String> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.clone());
    let describe = |e: ImageError| describe_error(e, format);
    let decoder = reader.into_decoder().map_err(describe)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height)?;
    limits.reserve(decoder.total_bytes()).map_err(describe)?;
    DynamicImage::from_decoder(decoder).map_err(describe)
}

/// libjpeg-exact pixels from [`super::jpeg`]; for a variant it does not cover (arithmetic coding, 12-bit,
/// lossless, broken marker structure) the image crate's zune-jpeg takes over, typically within ±4 of
/// libjpeg per sample.
fn decode_jpeg(bytes: &[u8]) -> std::result::Result<DynamicImage, String> {
    if let Some((width, height)) = check_jpeg_complete(bytes)? {
        check_size(width, height)?;
    }
    match super::jpeg::decode(bytes) {
        Ok((w, h, rgb)) => {
            check_size(w as u32, h as u32)?;
            match RgbImage::from_raw(w as u32, h as u32, rgb) {
                Some(img) => Ok(DynamicImage::ImageRgb8(img)),
                None => decode_with_image(bytes, ImageFormat::Jpeg),
            }
        }
        Err(_) => decode_with_image(bytes, ImageFormat::Jpeg),
    }
}

/// Reject empty and oversized images with the numbers and what to do.
fn check_size(width: u32, height: u32) -> std::result::Result<(), String> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(format!("the image is {width}x{height} pixels; it has no pixels to embed"));
    }
    if width > MAX_SIDE || height > MAX_SIDE || pixels > MAX_PIXELS {
        return Err(format!(
            "the image is {width}x{height} pixels ({:.1} megapixels); webclip accepts at most {MAX_SIDE} pixels \
             per side and {} megapixels. CLIP sees it at 224 pixels anyway: downscale it first.",
            pixels as f64 / 1e6,
            MAX_PIXELS / 1_000_000
        ));
    }
    Ok(())
}

/// A decoder library's message on one line: real and escaped (`\n`, as Debug formatting writes them) line
/// breaks and tabs become spaces, quotes from Debug formatting go, runs of spaces shrink to one.
fn one_line(message: &str) -> String {
    let unescaped = message.replace("\\r", " ").replace("\\n", " ").replace("\\t", " ").replace('"', "");
    unescaped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turn an `image` crate error into a sentence that says what to do.
fn describe_error(e: ImageError, format: ImageFormat) -> String {
    let name = format!("{format:?}").to_uppercase();
    match e {
        ImageError::Limits(l) if matches!(l.kind(), LimitErrorKind::DimensionError) => format!(
            "the image is larger than webclip accepts ({MAX_SIDE} pixels per side, {} megapixels): {}. \
             Downscale it first.",
            MAX_PIXELS / 1_000_000,
            one_line(&l.to_string())
        ),
        ImageError::Limits(l) => format!(
            "decoding would need more than {} MiB of memory ({}). Downscale the image or save it as an 8-bit \
             PNG or JPEG.",
            MAX_ALLOC >> 20,
            one_line(&l.to_string())
        ),
        ImageError::Unsupported(u) => format!(
            "this {name} uses a feature that cannot be decoded ({}). Re-save it as a baseline PNG or JPEG.",
            one_line(&u.to_string())
        ),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("the {name} file ends early (truncated). Download or copy it again.")
        }
        other => format!(
            "cannot decode this {name}: {}. The file is damaged or truncated; download or copy it again.",
            one_line(&other.to_string())
        ),
    }
}

/// zune-jpeg (behind `image`) fills missing data with gray when a JPEG is cut short, where Pillow raises
/// "image file is truncated". Walk the marker segments and require the end-of-image marker after the scans.
/// Returns the frame size from the first SOFn header, when there is one.
fn check_jpeg_complete(bytes: &[u8]) -> std::result::Result<Option<(u32, u32)>, String> {
    let truncated = || {
        "the JPEG file ends early (no end-of-image marker after its image data: truncated). \
                        Download or copy it again."
            .to_string()
    };
    let mut size = None;
    let mut i = 2; // after SOI (FF D8), which format guessing checked
    while i + 1 < bytes.len() {
        if bytes[i] != 0xFF {
            i += 1; // garbage between segments: decoders skip it too
            continue;
        }
        let marker = bytes[i + 1];
        match marker {
            0xD9 => return Ok(size),
            0xFF => i += 1,                      // fill byte
            0x00 | 0x01 | 0xD0..=0xD7 => i += 2, // not a marker (FF 00) or one without a length
            0xDA => {
                // Start of scan: skip its header, then the entropy-coded data, where FF is always followed by
                // 00 (stuffing) or a restart marker D0..D7.
                let len = segment_len(bytes, i).ok_or_else(truncated)?;
                i += 2 + len;
                let ends_data = |j: usize| bytes[j] == 0xFF && !matches!(bytes[j + 1], 0x00 | 0xD0..=0xD7);
                while i + 1 < bytes.len() && !ends_data(i) {
                    i += 1;
                }
            }
            _ => {
                if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) && size.is_none() {
                    // SOFn: precision (1), height (2), width (2).
                    if let Some(b) = bytes.get(i + 5..i + 9) {
                        let h = u32::from(u16::from_be_bytes([b[0], b[1]]));
                        size = Some((u32::from(u16::from_be_bytes([b[2], b[3]])), h));
                    }
                }
                i += 2 + segment_len(bytes, i).ok_or_else(truncated)?;
            }
        }
    }
    Err(truncated())
}

/// Length field of the segment whose marker is at `i` (it counts itself, not the marker). A value below 2
/// counts as 2: libjpeg then skips nothing after the length field.
fn segment_len(bytes: &[u8], i: usize) -> Option<usize> {
    let hi = *bytes.get(i + 2)?;
    let lo = *bytes.get(i + 3)?;
    Some(usize::from(u16::from_be_bytes([hi, lo])).max(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_marker_walk() {
        let ok = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9];
        assert!(check_jpeg_complete(&ok).is_ok());
        assert!(check_jpeg_complete(&ok[..ok.len() - 2]).is_err());
        // An APP1 segment whose payload holds FF D9 (e.g. an EXIF thumbnail) does not count as the end.
        let app = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x04, 0xFF, 0xD9, 0xFF, 0xDA, 0x00, 0x02, 0x12];
        assert!(check_jpeg_complete(&app).is_err());
        // The frame size comes from the first SOF.
        let sof = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x20, 1, 1, 0x11, 0, 0xFF, 0xD9];
        assert_eq!(check_jpeg_complete(&sof), Ok(Some((32, 16))));
    }

    #[test]
    fn library_messages_on_one_line() {
        assert_eq!(
            one_line("Format error decoding Jpeg: \"Found a marker with invalid length:0\\n\""),
            "Format error decoding Jpeg: Found a marker with invalid length:0"
        );
        assert_eq!(
            one_line("The parameter is malformed\nunderlying\tcause  "),
            "The parameter is malformed underlying cause"
        );
    }
}
