//! Coefficients → RGB: inverse DCT into component planes, libjpeg-turbo's "fancy" upsampling (jdsample.c,
//! the default), its YCbCr → RGB tables (jdcolor.c), and Pillow's CMYK → RGB.

use super::header::{Component, Frame};
use super::idct::idct_islow;
use super::Unsupported;

/// The colour space of the coded components, chosen by libjpeg's default_decompress_parms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColorSpace {
    Gray,
    YCbCr,
    Rgb,
    /// Adobe CMYK; Pillow reads it as inverted ("CMYK;I").
    Cmyk,
    /// Adobe YCCK: libjpeg turns it into CMYK, then as Cmyk.
    Ycck,
}

/// One component's samples: (bh * 8, bw * 8) u8, of which (dh, dw) are real.
struct Plane {
    data: Vec<u8>,
    stride: usize,
    dw: usize,
    dh: usize,
    /// Upsampling factors max_h / h and max_v / v.
    fx: usize,
    fy: usize,
    /// libjpeg's choice: triangle filters for 2x horizontal (when dw > 2) and 2x vertical.
    fancy_h: bool,
    fancy_v: bool,
}

impl Plane {
    fn new(c: &Component, max_h: usize, max_v: usize) -> Result<Plane, Unsupported> {
        if !max_h.is_multiple_of(c.h) || !max_v.is_multiple_of(c.v) {
            return Err(Unsupported("fractional chroma subsampling"));
        }
        let (fx, fy) = (max_h / c.h, max_v / c.v);
        let stride = c.bw * 8;
        let mut data = vec![0u8; stride * c.bh * 8];
        let quant = c.quant.unwrap_or([0; 64]);
        for (i, block) in c.coefs.chunks_exact(64).enumerate() {
            let (by, bx) = (i / c.bw, i % c.bw);
            let block: &[i16; 64] = block.try_into().map_err(|_| Unsupported("coefficient buffer"))?;
            idct_islow(block, &quant, &mut data[by * 8 * stride + bx * 8..], stride);
        }
        // jinit_upsampler: h2v1 and h2v2 are fancy only when the row has more than 2 samples; h1v2 always.
        let (fancy_h, fancy_v) = match (fx, fy) {
            (2, 1) => (c.dw > 2, false),
            (1, 2) => (false, true),
            (2, 2) => (c.dw > 2, c.dw > 2),
            _ => (false, false),
        };
        Ok(Plane { data, stride, dw: c.dw, dh: c.dh, fx, fy, fancy_h, fancy_v })
    }

    fn row(&self, y: usize) -> &[u8] {
        let y = y.min(self.dh - 1);
        &self.data[y * self.stride..y * self.stride + self.dw]
    }

    /// Output row `y` of this component at full resolution, `width` samples, into `out`.
    fn upsample_row(&self, y: usize, width: usize, out: &mut [u8], sums: &mut Vec<u16>) {
        let out = &mut out[..width];
        if self.fancy_v {
            // Vertical triangle: 3/4 of the nearer input row + 1/4 of the next nearer (above for even output
            // rows, below for odd; rows past the edges repeat the edge row).
            let i = y / 2;
            let near = self.row(i);
            let far = if y.is_multiple_of(2) { self.row(i.saturating_sub(1)) } else { self.row(i + 1) };
            sums.clear();
            sums.extend(near.iter().zip(far).map(|(&a, &b)| 3 * u16::from(a) + u16::from(b)));
            if self.fancy_h {
                // h2v2_fancy_upsample: 9/16, 3/16, 3/16, 1/16 with rounding +8 (left) / +7 (right).
                h2_fancy(sums, out, 8, 7, 4);
            } else {
                // h1v2_fancy_upsample: +1 for the upper output row, +2 for the lower.
                let bias = if y.is_multiple_of(2) { 1 } else { 2 };
                for (o, &s) in out.iter_mut().zip(sums.iter()) {
                    *o = ((s + bias) >> 2) as u8;
                }
            }
            return;
        }
        let src = self.row(y / self.fy);
        if self.fancy_h {
            // h2v1_fancy_upsample: 3/4, 1/4 with rounding +1 (left) / +2 (right).
            sums.clear();
            sums.extend(src.iter().map(|&a| u16::from(a)));
            h2_fancy(sums, out, 1, 2, 2);
        } else if self.fx == 1 {
            out.copy_from_slice(&src[..width]);
        } else {
            // Box replication (int_upsample, h2v1_upsample, h2v2_upsample).
            for (x, o) in out.iter_mut().enumerate() {
                *o = src[x / self.fx];
            }
        }
    }
}

/// Horizontal 2x triangle filter over `s` (the edges repeat the edge sample): output 2i gets
/// (3 s[i] + s[i-1] + left) >> shift, output 2i+1 gets (3 s[i] + s[i+1] + right) >> shift.
fn h2_fancy(s: &[u16], out: &mut [u8], left: u16, right: u16, shift: u32) {
    let last = s.len() - 1;
    for (x, o) in out.iter_mut().enumerate() {
        let i = x / 2;
        let (near, far, bias) =
            if x % 2 == 0 { (s[i], s[i.saturating_sub(1)], left) } else { (s[i], s[(i + 1).min(last)], right) };
        *o = ((3 * near + far + bias) >> shift) as u8;
    }
}

/// jdcolor.c build_ycc_rgb_table (16-bit fixed point, FIX(x) = round(x * 65536)).
struct YccTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    cb_g: [i32; 256],
}

impl YccTables {
    fn new() -> YccTables {
        let fix = |x: f64| (x * 65536.0 + 0.5) as i32;
        let mut t = YccTables { cr_r: [0; 256], cb_b: [0; 256], cr_g: [0; 256], cb_g: [0; 256] };
        for i in 0..256 {
            let x = i as i32 - 128;
            t.cr_r[i] = (fix(1.40200) * x + 32768) >> 16;
            t.cb_b[i] = (fix(1.77200) * x + 32768) >> 16;
            t.cr_g[i] = -fix(0.71414) * x;
            t.cb_g[i] = -fix(0.34414) * x + 32768;
        }
        t
    }

    #[inline]
    fn rgb(&self, y: u8, cb: u8, cr: u8) -> [i32; 3] {
        let (y, cb, cr) = (i32::from(y), usize::from(cb), usize::from(cr));
        [y + self.cr_r[cr], y + ((self.cb_g[cb] + self.cr_g[cr]) >> 16), y + self.cb_b[cb]]
    }
}

fn clamp8(x: i32) -> u8 {
    x.clamp(0, 255) as u8
}

/// Pillow's cmyk2rgb on libjpeg's CMYK output as Pillow unpacks it ("CMYK;I": every value inverted):
/// with nk = 255 - K, channel = nk - C * nk / 255 (rounded as MULDIV255).
#[inline]
fn cmyk_to_rgb(raw: [u8; 4]) -> [u8; 3] {
    let nk = i32::from(raw[3]);
    let f = |c: u8| {
        let t = (255 - i32::from(c)) * nk + 128;
        clamp8(nk - (((t >> 8) + t) >> 8))
    };
    [f(raw[0]), f(raw[1]), f(raw[2])]
}

/// Render the decoded frame to (height, width, 3) RGB.
pub fn render(frame: &mut Frame, space: ColorSpace) -> Result<Vec<u8>, Unsupported> {
    let (w, h) = (frame.width, frame.height);
    let mut planes = Vec::with_capacity(frame.comps.len());
    for c in &mut frame.comps {
        if c.coefs.is_empty() {
            return Err(Unsupported("a component has no scan"));
        }
        planes.push(Plane::new(c, frame.max_h, frame.max_v)?);
        c.coefs = Vec::new(); // free each component's coefficients once its samples exist
    }
    let tables = YccTables::new();
    let mut rows = vec![vec![0u8; w]; planes.len()];
    let mut sums = Vec::with_capacity(w);
    let mut rgb = vec![0u8; w * h * 3];
    for (y, dst) in rgb.chunks_exact_mut(w * 3).enumerate() {
        for (p, row) in planes.iter().zip(rows.iter_mut()) {
            p.upsample_row(y, w, row, &mut sums);
        }
        for (x, px) in dst.chunks_exact_mut(3).enumerate() {
            let out = match space {
                ColorSpace::Gray => [rows[0][x]; 3],
                ColorSpace::Rgb => [rows[0][x], rows[1][x], rows[2][x]],
                ColorSpace::YCbCr => tables.rgb(rows[0][x], rows[1][x], rows[2][x]).map(clamp8),
                ColorSpace::Cmyk => cmyk_to_rgb([rows[0][x], rows[1][x], rows[2][x], rows[3][x]]),
                ColorSpace::Ycck => {
                    // ycck_cmyk_convert: CMY = 255 - RGB from the YCbCr part, K passes through.
                    let [r, g, b] = tables.rgb(rows[0][x], rows[1][x], rows[2][x]);
                    cmyk_to_rgb([clamp8(255 - r), clamp8(255 - g), clamp8(255 - b), rows[3][x]])
                }
            };
            px.copy_from_slice(&out);
        }
    }
    Ok(rgb)
}
