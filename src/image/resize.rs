//! Pillow's `Image.resize(size, filter)` for 8-bit RGB, bit for bit (Pillow's libImaging/Resample.c).
//!
//! Two separable passes, horizontal first into an 8-bit intermediate, then vertical; a pass whose size does
//! not change is skipped. Each output pixel is `clip8((1 << 21 + Σ pixel * w_fixed) >> 22)` where the weights
//! are the filter evaluated in f64, normalised by their sum, then rounded half away from zero to 22 fractional
//! bits. Every output row and column depends only on its own weights, so [`resize_window`] can compute just the
//! part of the output that a center crop keeps, with the same values Pillow gives for those pixels.

use std::ops::Range;

/// Fractional bits of the fixed-point weights (Pillow: `PRECISION_BITS = 32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// Pillow's convolution filters, numbered as `PIL.Image.Resampling` (and `resample` in preprocessor_config.json).
/// NEAREST (0) is not a convolution in Pillow and is not provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Lanczos = 1,
    Bilinear = 2,
    Bicubic = 3,
    Box = 4,
    Hamming = 5,
}

impl Filter {
    /// The filter for a `resample` id, or None for NEAREST and unknown ids.
    pub fn from_pil(id: u32) -> Option<Filter> {
        match id {
            1 => Some(Filter::Lanczos),
            2 => Some(Filter::Bilinear),
            3 => Some(Filter::Bicubic),
            4 => Some(Filter::Box),
            5 => Some(Filter::Hamming),
            _ => None,
        }
    }

    /// Half-width of the filter in input pixels at scale 1.
    fn support(self) -> f64 {
        match self {
            Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    /// The filter kernel; same expressions, in the same order, as Resample.c (so f64 results are identical).
    /// Hamming and Lanczos call sin/cos, whose last bit may differ between libms (glibc vs Rust's wasm libm);
    /// bicubic, bilinear and box are plain arithmetic and exact everywhere.
    fn eval(self, x: f64) -> f64 {
        match self {
            Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let x = x * std::f64::consts::PI;
                    x.sin() / x * (0.54 + 0.46 * x.cos())
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

/// Fixed-point weights of one axis (Pillow's precompute_coeffs + normalize_coeffs_8bpc), for the output
/// indices in `outs` only.
struct Coeffs {
    /// Output index of the first entry.
    first_out: usize,
    /// Weights per output index.
    ksize: usize,
    /// (first input index, number of inputs) per output index in `outs`.
    bounds: Vec<(usize, usize)>,
    /// (outs.len(), ksize) fixed-point weights; entries past an output's count are 0.
    weights: Vec<i32>,
}

impl Coeffs {
    fn new(in_size: usize, out_size: usize, outs: Range<usize>, filter: Filter) -> Coeffs {
        // Pillow takes the box edges as C floats: `(double)(in1 - in0) / outSize` with in0 = 0.0f.
        let scale = f64::from(in_size as f32) / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let ss = 1.0 / filterscale;
        let mut bounds = Vec::with_capacity(outs.len());
        let mut weights = vec![0i32; outs.len() * ksize];
        let mut k = vec![0f64; ksize];
        for (row, xx) in weights.chunks_exact_mut(ksize).zip(outs.clone()) {
            let center = (xx as f64 + 0.5) * scale;
            // `(int)` in C truncates toward zero, as `as i64` does.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
            let count = (xmax - xmin).clamp(0, ksize as i64) as usize;
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate().take(count) {
                let w = filter.eval(((x as i64 + xmin) as f64 - center + 0.5) * ss);
                *kx = w;
                ww += w;
            }
            for (w_fixed, &w) in row.iter_mut().zip(&k[..count]) {
                let w = if ww != 0.0 { w / ww } else { w };
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                *w_fixed = if w < 0.0 { (-0.5 + scaled) as i32 } else { (0.5 + scaled) as i32 };
            }
            bounds.push((xmin as usize, count));
        }
        Coeffs { first_out: outs.start, ksize, bounds, weights }
    }

    /// (first input index, weights) of output index `out` (which must lie in the range given to `new`).
    fn taps(&self, out: usize) -> (usize, &[i32]) {
        let i = out - self.first_out;
        let (xmin, count) = self.bounds[i];
        (xmin, &self.weights[i * self.ksize..i * self.ksize + count])
    }

    /// Input indices read by the output indices this holds.
    fn input_span(&self) -> Range<usize> {
        let start = self.bounds.first().map_or(0, |b| b.0);
        let end = self.bounds.last().map_or(0, |b| b.0 + b.1);
        start..end.max(start)
    }
}

/// Pillow's clip8: the accumulator has 22 fractional bits; floor, then clamp to 0..=255.
#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// An 8-bit RGB raster, rows of `width * 3` bytes.
pub struct Rgb8<'a> {
    pub width: usize,
    pub height: usize,
    /// (height, width, 3)
    pub data: &'a [u8],
}

/// The pixels `cols` x `rows` of Pillow's `resize((out_w, out_h), filter)` of `src`, as a
/// (rows.len(), cols.len(), 3) u8 buffer. The ranges must lie within the output size, and both sizes must be
/// ≥ 1. Memory: the output window plus an intermediate of (input rows the window reads) x cols.len() x 3.
pub fn resize_window(
    src: &Rgb8,
    out_w: usize,
    out_h: usize,
    cols: Range<usize>,
    rows: Range<usize>,
    filter: Filter,
) -> Vec<u8> {
    debug_assert!(cols.end <= out_w && rows.end <= out_h && src.width > 0 && src.height > 0);
    let need_h = out_w != src.width;
    let need_v = out_h != src.height;
    // Rows of the input that the vertical pass reads (all window rows when there is no vertical pass).
    let vert = need_v.then(|| Coeffs::new(src.height, out_h, rows.clone(), filter));
    let in_rows = vert.as_ref().map_or(rows.clone(), Coeffs::input_span);

    // Horizontal pass: input rows `in_rows` → (in_rows.len(), cols.len(), 3). Without one, the window's columns
    // are copied (they are the input's columns when the width does not change).
    let n_cols = cols.len();
    let mut tmp = vec![0u8; in_rows.len() * n_cols * 3];
    if need_h {
        let horiz = Coeffs::new(src.width, out_w, cols.clone(), filter);
        for (dst_row, y) in tmp.chunks_exact_mut(n_cols * 3).zip(in_rows.clone()) {
            let src_row = &src.data[y * src.width * 3..(y + 1) * src.width * 3];
            for (dst, xx) in dst_row.chunks_exact_mut(3).zip(cols.clone()) {
                let (xmin, ks) = horiz.taps(xx);
                let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
                for (px, &k) in src_row[xmin * 3..].chunks_exact(3).zip(ks) {
                    acc[0] += i32::from(px[0]) * k;
                    acc[1] += i32::from(px[1]) * k;
                    acc[2] += i32::from(px[2]) * k;
                }
                dst.copy_from_slice(&[clip8(acc[0]), clip8(acc[1]), clip8(acc[2])]);
            }
        }
    } else {
        for (dst_row, y) in tmp.chunks_exact_mut(n_cols * 3).zip(in_rows.clone()) {
            let start = y * src.width * 3;
            dst_row.copy_from_slice(&src.data[start + cols.start * 3..start + cols.end * 3]);
        }
    }
    let Some(vert) = vert else {
        return tmp;
    };

    // Vertical pass: (in_rows.len(), cols.len(), 3) → (rows.len(), cols.len(), 3).
    let stride = n_cols * 3;
    let mut out = vec![0u8; rows.len() * stride];
    let mut acc = vec![0i32; stride];
    for (dst_row, yy) in out.chunks_exact_mut(stride).zip(rows.clone()) {
        let (ymin, ks) = vert.taps(yy);
        acc.fill(1 << (PRECISION_BITS - 1));
        for (i, &k) in ks.iter().enumerate() {
            let y = ymin + i - in_rows.start;
            for (a, &p) in acc.iter_mut().zip(&tmp[y * stride..(y + 1) * stride]) {
                *a += i32::from(p) * k;
            }
        }
        for (d, &a) in dst_row.iter_mut().zip(&acc) {
            *d = clip8(a);
        }
    }
    out
}

/// Pillow's `resize((out_w, out_h), filter)` of the whole image: (out_h, out_w, 3) u8.
pub fn resize(src: &Rgb8, out_w: usize, out_h: usize, filter: Filter) -> Vec<u8> {
    resize_window(src, out_w, out_h, 0..out_w, 0..out_h, filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resize a single-row gray ramp (R = G = B) horizontally and return the R channel.
    fn resize_row(row: &[u8], out_w: usize, filter: Filter) -> Vec<u8> {
        let data: Vec<u8> = row.iter().flat_map(|&v| [v, v, v]).collect();
        let src = Rgb8 { width: row.len(), height: 1, data: &data };
        resize(&src, out_w, 1, filter).chunks_exact(3).map(|p| p[0]).collect()
    }

    #[test]
    fn bicubic_weights_by_hand() {
        // 4 → 2: scale 2, support 2 * 2 = 4. Output 0 is centred at 1.0; inputs 0..4 (the window -2..5 clamped)
        // sit at (x + 0.5 - 1.0) / 2 = -0.25, 0.25, 0.75, 1.25, where bicubic(a = -0.5) is 0.8671875,
        // 0.8671875, 0.2265625, -0.0703125 (sum 1.890625). Divided by the sum and rounded to 22 bits:
        let c = Coeffs::new(4, 2, 0..2, Filter::Bicubic);
        let (xmin, w) = c.taps(0);
        assert_eq!(xmin, 0);
        assert_eq!(w, [1923834, 1923834, 502623, -155987]);
        assert_eq!(w.iter().sum::<i32>(), 1 << 22);
    }

    #[test]
    fn constant_stays_constant_and_identity_is_a_copy() {
        for filter in [Filter::Bicubic, Filter::Bilinear, Filter::Lanczos, Filter::Box, Filter::Hamming] {
            assert_eq!(resize_row(&[77; 9], 4, filter), vec![77; 4]);
            assert_eq!(resize_row(&[77; 3], 7, filter), vec![77; 7]);
        }
        assert_eq!(resize_row(&[1, 2, 3, 250], 4, Filter::Bicubic), vec![1, 2, 3, 250]);
    }

    #[test]
    fn bicubic_downscale_by_two() {
        // out0 = (255 * (502623 - 155987) + 2^21) >> 22 = 21, and out1 mirrors it: 255 - 21 = 234. Pillow 13:
        // Image.fromarray(np.array([[0, 0, 255, 255]], np.uint8)).convert("RGB").resize((2, 1), 3) → 21, 234;
        // [1, 2, 3, 250] → 0, 116 (the negative lobe clips to 0).
        assert_eq!(resize_row(&[0, 0, 255, 255], 2, Filter::Bicubic), vec![21, 234]);
        assert_eq!(resize_row(&[1, 2, 3, 250], 2, Filter::Bicubic), vec![0, 116]);
    }

    #[test]
    fn window_equals_slice_of_full() {
        let (w, h) = (13, 9);
        let data: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let src = Rgb8 { width: w, height: h, data: &data };
        let (ow, oh) = (6, 20);
        let full = resize(&src, ow, oh, Filter::Bicubic);
        let win = resize_window(&src, ow, oh, 2..5, 7..15, Filter::Bicubic);
        for (r, y) in (7..15).enumerate() {
            assert_eq!(&win[r * 9..r * 9 + 9], &full[(y * ow + 2) * 3..(y * ow + 5) * 3]);
        }
    }
}
