//! Image input: file bytes → `pixel_values` identical to Hugging Face's CLIPImageProcessor (the PIL one).
//!
//! ```text
//! bytes ──decode──▶ RGB u8 (H, W, 3) ──resize──▶ (H', W', 3) ──center crop──▶ (ch, cw, 3) ──rescale, normalize──▶ f32 (3, ch, cw)
//!        PIL.open +         Pillow bicubic,         zero-padded when             f64 multiply → f32,
//!        exif_transpose +   shortest edge → 224     smaller than the crop        then (x - mean) / std in f32
//!        convert_to_rgb
//! ```
//!
//! A bilinear, triangle or canvas resize is not CLIP preprocessing: embeddings drift (cosine ≈ 0.94) without
//! Pillow's antialiased bicubic, which `resize` reproduces bit for bit. Only the part of the resized image that
//! the crop keeps is computed, with the same values Pillow gives for those pixels.

mod config;
mod convert;
mod decode;
mod exif;
mod gif;
mod jpeg;
mod orientation;
mod png_text;
pub mod resize;
mod sniff;

pub use config::{PreprocessConfig, CLIP_PROCESSORS, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, SIGLIP_PROCESSORS};
pub use decode::{decode, MAX_ALLOC, MAX_PIXELS, MAX_SIDE};
pub use image::RgbImage;

use crate::error::{Error, Result};
use resize::{resize_window, Rgb8};

/// Pixels in CHW order: what transformers calls `pixel_values[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    pub height: usize,
    pub width: usize,
    /// (3, height, width), RGB planes.
    pub data: Vec<f32>,
}

/// `size` of the resized image, (height, width): transformers' get_resize_output_image_size with
/// default_to_square=False, i.e. short side → shortest_edge, long side → `int(shortest_edge * long / short)`
/// (Python's true division, one correctly rounded f64 division, then truncation).
pub fn resized_size(height: u32, width: u32, cfg: &PreprocessConfig) -> (u32, u32) {
    if !cfg.do_resize {
        return (height, width);
    }
    if let Some(hw) = cfg.resize_to {
        return hw;
    }
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    let s = cfg.shortest_edge;
    let new_long = ((u64::from(s) * u64::from(long)) as f64 / f64::from(short.max(1))) as u32;
    if width <= height {
        (new_long, s)
    } else {
        (s, new_long)
    }
}

/// (height, width) of the pixels `preprocess` returns for an image of this size.
pub fn output_size(height: u32, width: u32, cfg: &PreprocessConfig) -> (u32, u32) {
    if cfg.do_center_crop {
        (cfg.crop_height, cfg.crop_width)
    } else {
        resized_size(height, width, cfg)
    }
}

/// CLIPImageProcessor.preprocess of one decoded image: resize (Pillow), center crop, rescale, normalize.
///
/// With `do_center_crop` the work and memory are bounded by the crop; without it the output has the resized
/// size, which for extreme aspect ratios can be very large (`load` refuses more than MAX_PIXELS).
pub fn preprocess(img: &RgbImage, cfg: &PreprocessConfig) -> Pixels {
    let (in_w, in_h) = img.dimensions();
    let (rh, rw) = resized_size(in_h, in_w, cfg);
    let (rh, rw) = (rh as usize, rw as usize);
    let (out_h, out_w) = output_size(in_h, in_w, cfg);
    let (out_h, out_w) = (out_h as usize, out_w as usize);
    // transformers' center_crop: top = (h - crop_h) // 2 (floor, negative when the image is smaller, which
    // is the same as zero padding of ceil((crop_h - h) / 2) rows on top); left likewise.
    let (top, left) = if cfg.do_center_crop {
        ((rh as i64 - out_h as i64).div_euclid(2), (rw as i64 - out_w as i64).div_euclid(2))
    } else {
        (0, 0)
    };
    let span = |start: i64, len: usize, size: usize| {
        start.clamp(0, size as i64) as usize..(start + len as i64).clamp(0, size as i64) as usize
    };
    let rows = span(top, out_h, rh);
    let cols = span(left, out_w, rw);

    let src = Rgb8 { width: in_w as usize, height: in_h as usize, data: img.as_raw() };
    // (rows.len(), cols.len(), 3): the part of the resized image the crop keeps.
    let window = if in_w == 0 || in_h == 0 {
        Vec::new()
    } else {
        resize_window(&src, rw, rh, cols.clone(), rows.clone(), cfg.filter())
    };

    let lut = value_table(cfg);
    let plane = out_h * out_w;
    let mut data = vec![0f32; 3 * plane];
    for y in 0..out_h {
        let sy = y as i64 + top;
        let in_rows = sy >= 0 && rows.contains(&(sy as usize));
        for x in 0..out_w {
            let sx = x as i64 + left;
            let px = if in_rows && sx >= 0 && cols.contains(&(sx as usize)) {
                let i = ((sy as usize - rows.start) * cols.len() + (sx as usize - cols.start)) * 3;
                [window[i], window[i + 1], window[i + 2]]
            } else {
                [0; 3] // crop padding is 0 before rescale/normalize, as in transformers
            };
            for c in 0..3 {
                data[c * plane + y * out_w + x] = lut[c][usize::from(px[c])];
            }
        }
    }
    Pixels { height: out_h, width: out_w, data }
}

/// f32 value of each u8 per channel: transformers' `rescale` (`(u8 as f64 * factor) as f32`) then `normalize`
/// (`(x - mean) / std`, both in f32), so the results are the same floats numpy computes.
fn value_table(cfg: &PreprocessConfig) -> [[f32; 256]; 3] {
    let mut lut = [[0f32; 256]; 3];
    for (c, table) in lut.iter_mut().enumerate() {
        for (u, v) in table.iter_mut().enumerate() {
            let mut x = if cfg.do_rescale { (u as f64 * cfg.rescale_factor) as f32 } else { u as f32 };
            if cfg.do_normalize {
                x = (x - cfg.image_mean[c]) / cfg.image_std[c];
            }
            *v = x;
        }
    }
    lut
}

/// Decode file bytes and preprocess them. `source_name` is only used in error messages.
pub fn load(bytes: &[u8], source_name: &str, cfg: &PreprocessConfig) -> Result<Pixels> {
    let img = decode(bytes, source_name)?;
    let (h, w) = output_size(img.height(), img.width(), cfg);
    if u64::from(h) * u64::from(w) > MAX_PIXELS {
        return Err(Error::image(
            source_name,
            format!(
                "preprocessing would produce {w}x{h} pixels (do_center_crop is off and the aspect ratio is extreme); \
                 crop the image or enable do_center_crop in preprocessor_config.json"
            ),
        ));
    }
    Ok(preprocess(&img, cfg))
}
