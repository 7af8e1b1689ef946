//! Which way up: the transform `PIL.ImageOps.exif_transpose` applies, from the metadata Pillow's plugins put in
//! `Image.info` and `Image.getexif()`'s precedence:
//!
//! ```text
//! info["exif"]                      JPEG: APP1 "Exif\0\0" segments before the first scan, concatenated
//!                                   PNG:  eXIf chunk (or a tEXt chunk keyed "exif"), last one wins
//!                                   WebP: first EXIF chunk, if the VP8X header flags EXIF (libwebp's demuxer)
//!   else "Raw profile type exif"    PNG:  ImageMagick's hex dump in a tEXt/zTXt/iTXt chunk
//!   else the TIFF file's first IFD  TIFF
//! → Orientation (tag 274); when absent, the first `tiff:Orientation="N"` / `tiff:Orientation>N` in the XMP:
//!   PNG iTXt/tEXt/zTXt "XML:com.adobe.xmp", JPEG APP1 "http://ns.adobe.com/xap/1.0/", WebP "XMP " chunk,
//!   TIFF tag 700.
//! ```
//!
//! GIF and BMP carry none of these in Pillow. Every read is bounded by the file; compressed text is inflated
//! to at most Pillow's MAX_TEXT_CHUNK (1 MiB). Where Pillow raises instead (an EXIF block that is not TIFF,
//! bad hex in a raw profile, text over 1 MiB), webclip keeps the pixels upright.

use image::metadata::Orientation;
use image::ImageFormat;

use super::exif::{self, Exif};

/// The orientation Pillow would apply to this file.
pub fn orientation(bytes: &[u8], format: ImageFormat) -> Orientation {
    let (exif, xmp) = match format {
        ImageFormat::Jpeg => jpeg(bytes),
        ImageFormat::Png => super::png_text::metadata(bytes),
        ImageFormat::WebP => webp(bytes),
        ImageFormat::Tiff => {
            let (e, x) = exif::tiff(bytes);
            (e, x.map(<[u8]>::to_vec))
        }
        _ => (Exif::NoOrientation, None),
    };
    let code = match exif {
        Exif::Invalid => 1,
        Exif::Orientation(o) => o,
        Exif::NoOrientation => xmp.as_deref().map_or(1, xmp_orientation),
    };
    Orientation::from_exif(code).unwrap_or(Orientation::NoTransforms)
}

/// `re.search(r'tiff:Orientation(="|>)([0-9])', xmp)`: the digit after the first match.
fn xmp_orientation(xmp: &[u8]) -> u8 {
    const KEY: &[u8] = b"tiff:Orientation";
    let mut rest = xmp;
    while let Some(i) = rest.windows(KEY.len()).position(|w| w == KEY) {
        let after = &rest[i + KEY.len()..];
        let digit = match after {
            [b'=', b'"', d, ..] | [b'>', d, ..] if d.is_ascii_digit() => Some(d - b'0'),
            _ => None,
        };
        if let Some(d) = digit {
            return d;
        }
        rest = &rest[i + 1..];
    }
    1
}

/// JPEG: the APPn segments Pillow's JpegImagePlugin reads before the first SOS.
fn jpeg(d: &[u8]) -> (Exif, Option<Vec<u8>>) {
    let mut exif: Option<Vec<u8>> = None;
    let mut xmp = None;
    let mut i = 2;
    while i + 4 <= d.len() {
        if d[i] != 0xFF {
            i += 1;
            continue;
        }
        let marker = d[i + 1];
        if matches!(marker, 0xFF | 0x00 | 0x01 | 0xD0..=0xD8) {
            i += if marker == 0xFF { 1 } else { 2 };
            continue;
        }
        if matches!(marker, 0xD9 | 0xDA) {
            break;
        }
        let len = usize::from(u16::from_be_bytes([d[i + 2], d[i + 3]]));
        let seg = &d[(i + 4).min(d.len())..(i + 2 + len.max(2)).min(d.len())];
        if marker == 0xE1 {
            if seg.starts_with(b"Exif\0\0") {
                match exif.as_mut() {
                    Some(e) => e.extend_from_slice(&seg[6..]),
                    None => exif = Some(seg.to_vec()),
                }
            } else if let Some(x) = seg.strip_prefix(b"http://ns.adobe.com/xap/1.0/\0") {
                xmp = Some(x.to_vec());
            }
        }
        i += 2 + len.max(2);
    }
    (exif.as_deref().map_or(Exif::NoOrientation, exif::orientation), xmp)
}

/// WebP: RIFF chunks after the header; metadata counts only in the extended format with its VP8X flag set.
fn webp(d: &[u8]) -> (Exif, Option<Vec<u8>>) {
    let (mut exif, mut xmp) = (None, None);
    let mut flags = None;
    let mut i = 12;
    while let Some(head) = d.get(i..i + 8) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let Some(data) = d.get(i + 8..(i + 8).saturating_add(len)) else { break };
        match (&head[..4], flags) {
            (b"VP8X", None) if i == 12 => flags = data.first().copied(),
            (b"EXIF", Some(f)) if f & 0x08 != 0 && exif.is_none() => exif = Some(data),
            (b"XMP ", Some(f)) if f & 0x04 != 0 && xmp.is_none() => xmp = Some(data.to_vec()),
            _ => {}
        }
        i = i + 8 + len + (len & 1);
    }
    // Pillow stores a chunk only when it is not empty.
    let exif = exif.filter(|e| !e.is_empty()).map_or(Exif::NoOrientation, exif::orientation);
    (exif, xmp.filter(|x| !x.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmp_patterns() {
        assert_eq!(xmp_orientation(br#"<d tiff:Orientation="6"/>"#), 6);
        assert_eq!(xmp_orientation(b"<tiff:Orientation>8</tiff:Orientation>"), 8);
        assert_eq!(xmp_orientation(br#"tiff:Orientation='6' tiff:Orientation="3""#), 3);
        assert_eq!(xmp_orientation(br#"tiff:Orientation="x"#), 1);
        assert_eq!(xmp_orientation(b"tiff:Orientation"), 1);
    }
}
