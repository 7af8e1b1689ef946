//! Decoded pixels → 8-bit RGB, the way transformers' `convert_to_rgb` sees the image Pillow opened:
//!
//! - grayscale is repeated into R, G and B;
//! - anything with alpha (RGBA, LA, palette, grayscale or RGB colour-key transparency) is composited on opaque
//!   white with Pillow's integer `alpha_composite` arithmetic: transformers 5.24's `convert_to_rgb` does so when
//!   the image has an alpha band *or* `info["transparency"]`, so an RGB PNG's tRNS key turns those pixels white
//!   although Pillow itself opens it as mode RGB (checked: `CLIPImageProcessorPil` gives 255 there);
//! - 16-bit RGB, RGBA and gray+alpha samples keep their high byte (Pillow's `RGB;16B`, `RGBA;16B`, `LA;16B`
//!   unpackers);
//! - 16-bit grayscale is Pillow's mode `I;16`, and its conversion to RGB *clamps*: every value ≥ 255 becomes
//!   255, values below 255 stay as they are (so a 16-bit scan is mostly white, exactly as in transformers).

use image::{DynamicImage, RgbImage};

/// Where Pillow's mode for a file differs from the image crate's decoded layout.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quirks {
    /// 16-bit grayscale opens as `I;16`, which clamps (PNG colour type 0, TIFF).
    pub gray16_clamps: bool,
    /// RGBA with associated (premultiplied) alpha (TIFF ExtraSamples 1): Pillow's "RGBa" unpacker divides
    /// it out, per 8-bit sample, truncating.
    pub premultiplied: bool,
}

impl Quirks {
    /// The quirks of a PNG, from its IHDR colour type (byte 25 of the file).
    pub fn png(bytes: &[u8]) -> Quirks {
        let color_type = bytes.get(25).copied();
        Quirks { gray16_clamps: color_type == Some(0), ..Quirks::default() }
    }
}

/// Pillow's `alpha_composite` of one pixel over opaque white (AlphaComposite.c with the destination fixed at
/// (255, 255, 255, 255): outa255 = 255², coef1 = a·128, coef2 = (255 - a)·128), then `.convert("RGB")`.
#[inline]
fn over_white(c: u8, a: u8) -> u8 {
    if a == 0 {
        return 255;
    }
    let (c, a) = (u32::from(c), u32::from(a));
    let t = 128 * (c * a + 255 * (255 - a)) + (0x80 << 7);
    ((((t >> 8) + t) >> 8) >> 7) as u8
}

/// The high byte of a 16-bit sample.
#[inline]
fn hi(v: u16) -> u8 {
    (v >> 8) as u8
}

/// Pillow's unpackRGBa: c·255/a (integer division, clipped), 0 where a = 0.
#[inline]
fn unpremultiply(c: u8, a: u8) -> u8 {
    match a {
        0 => 0,
        255 => c,
        _ => (u32::from(c) * 255 / u32::from(a)).min(255) as u8,
    }
}

/// `I;16` → `L` (ImagingConvert's I16_L): values above 255 clip.
#[inline]
fn clamp16(v: u16) -> u8 {
    v.min(255) as u8
}

/// One 8-bit RGBA pixel on white (after dividing out premultiplied alpha).
#[inline]
fn rgba(r: u8, g: u8, b: u8, a: u8, q: Quirks) -> [u8; 3] {
    let c = |v: u8| over_white(if q.premultiplied { unpremultiply(v, a) } else { v }, a);
    [c(r), c(g), c(b)]
}

fn map_pixels<P: image::Pixel>(
    img: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    f: impl Fn(&[P::Subpixel]) -> [u8; 3],
) -> RgbImage {
    let (w, h) = img.dimensions();
    let n = P::CHANNEL_COUNT as usize;
    let data: Vec<u8> = img.as_raw().chunks_exact(n).flat_map(f).collect();
    // The buffer has exactly w*h*3 bytes, so from_raw cannot fail; the fallback keeps this panic-free.
    RgbImage::from_raw(w, h, data).unwrap_or_else(|| RgbImage::new(w, h))
}

/// Any decoded image → 8-bit RGB with the conversions in the module docs.
pub fn to_rgb8(img: DynamicImage, q: Quirks) -> RgbImage {
    let gray16 = |v: u16| if q.gray16_clamps { clamp16(v) } else { hi(v) };
    match img {
        DynamicImage::ImageRgb8(i) => i,
        DynamicImage::ImageLuma8(i) => map_pixels(&i, |p| [p[0]; 3]),
        DynamicImage::ImageLumaA8(i) => map_pixels(&i, |p| [over_white(p[0], p[1]); 3]),
        DynamicImage::ImageRgba8(i) => map_pixels(&i, |p| rgba(p[0], p[1], p[2], p[3], q)),
        DynamicImage::ImageLuma16(i) => map_pixels(&i, |p| [gray16(p[0]); 3]),
        // With clamping this is I;16 plus a colour key (alpha 0 or 65535); otherwise Pillow's LA;16B.
        DynamicImage::ImageLumaA16(i) => map_pixels(&i, |p| [over_white(gray16(p[0]), hi(p[1])); 3]),
        DynamicImage::ImageRgb16(i) => map_pixels(&i, |p| [hi(p[0]), hi(p[1]), hi(p[2])]),
        DynamicImage::ImageRgba16(i) => map_pixels(&i, |p| rgba(hi(p[0]), hi(p[1]), hi(p[2]), hi(p[3]), q)),
        // Float images (TIFF): quantise, then composite.
        other => {
            map_pixels(&other.to_rgba8(), |p| [over_white(p[0], p[3]), over_white(p[1], p[3]), over_white(p[2], p[3])])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_white_matches_pillow_at_known_points() {
        // Pillow 13: Image.alpha_composite(white, RGBA(c, c, c, a)).convert("RGB"), checked exhaustively
        // during development against this formula.
        assert_eq!(over_white(0, 0), 255);
        assert_eq!(over_white(0, 255), 0);
        assert_eq!(over_white(200, 255), 200);
        assert_eq!(over_white(0, 128), 127);
        assert_eq!(over_white(100, 1), 254);
    }

    #[test]
    fn sixteen_bit_gray() {
        // Pillow 13: I;16 values 0, 255, 256, 0x8040, 65535, 100 convert to RGB as 0, 255, 255, 255, 255, 100.
        let img = image::ImageBuffer::from_raw(6, 1, vec![0u16, 255, 256, 0x8040, 65535, 100]).unwrap();
        let q = Quirks { gray16_clamps: true, ..Quirks::default() };
        let rgb = to_rgb8(DynamicImage::ImageLuma16(img), q);
        let firsts: Vec<u8> = rgb.as_raw().chunks_exact(3).map(|p| p[0]).collect();
        assert_eq!(firsts, [0, 255, 255, 255, 255, 100]);
    }
}
