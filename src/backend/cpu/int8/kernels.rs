//! The q8 × u7 tile kernels: one arithmetic, four implementations (WebAssembly relaxed SIMD, WebAssembly SIMD128,
//! x86 SSSE3, portable). Self-contained (no crate imports) so a kernel can be benchmarked on its own.
//!
//! A tile is `QT` quads of activation rows (4 rows each) × `CT` output columns (weight rows). For each quad `q`,
//! column `c`, row lane `r` of the quad and block `b` of 32 inputs:
//!
//! ```text
//! isum  = Σ_{j<32} w[c, 32b+j] · u[q, r, 32b+j]                        exact in i32 (|isum| < 2²⁰)
//! acc   = (acc + f32(isum) · (d[q, b, r] · dw[c, b])) + m[q, b, r] · wsum[c, b]
//!                                                                      f32, blocks in order, no fused multiply-add
//! ```
//!
//! `u` is the unsigned operand of `i32x4.relaxed_dot_i8x16_i7x16_add_s` (`0..=127`, top bit clear, so every
//! engine computes the same exact sums: no saturation, no sign ambiguity), `x ≈ m + d·u`, and
//! `wsum = dw · Σ_j w[c, 32b+j]` carries the blocks' minimum `m` through. Integer sums are exact and the f32
//! operations are the same in the same order everywhere, so all implementations agree bit for bit (the unit tests
//! hold the native ones to [`portable`]; in Chromium, gpu.test.mjs holds the two wasm builds to each other and to the
//! native CLI).
//!
//! Activation layout ([`Rows`]): quad `q`, block `b`, step `s` (inputs `32b + 4s .. 32b + 4s + 4`) is one 16-byte
//! vector `[r0 ×4, r1 ×4, r2 ×4, r3 ×4]` at `u[((q·blocks + b)·8 + s)·16 ..]`; its steps and minima
//! `d[(q·blocks + b)·4 + r]`, `m[..]`.
//! A weight row is used as stored (q8: 32 int8 per block, row-major): four consecutive weights are one `i32`,
//! splatted against the four rows of a step.

// Tiles are indexed [column][quad] in every implementation alike: index loops read as the arithmetic does.
#![allow(clippy::needless_range_loop)]

/// Steps of four inputs in a block of 32.
pub const STEPS: usize = 8;
/// Bytes of one quad's block: 8 steps × 16.
pub const QUAD_BLOCK: usize = STEPS * 16;

/// Quantized activations in the kernel layout (module docs).
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub blocks: usize,
    pub quads: usize,
    /// `(quads, blocks, 8, 4 rows, 4)` in `0..=127`
    pub u: &'a [u8],
    /// `(quads, blocks, 4 rows)` steps
    pub d: &'a [f32],
    /// `(quads, blocks, 4 rows)` minima
    pub m: &'a [f32],
}

/// One output column: its weight row and per-block values.
#[derive(Clone, Copy)]
pub struct Column<'a> {
    /// `(blocks · 32)` as stored
    pub w: &'a [i8],
    /// `(blocks)` the weight scales in f32
    pub dw: &'a [f32],
    /// `(blocks)` `dw · Σ w` over each block
    pub wsum: &'a [f32],
}

/// `out[c][q]` = the four rows of quad `q0 + q` for column `c`, accumulated over all blocks (no bias).
pub type Tile<const QT: usize, const CT: usize> = [[[f32; 4]; QT]; CT];

fn check<const QT: usize, const CT: usize>(x: &Rows, q0: usize, cols: &[Column; CT]) {
    let n = x.blocks;
    assert!(q0 + QT <= x.quads && x.u.len() >= x.quads * n * QUAD_BLOCK && x.d.len() >= x.quads * n * 4);
    assert!(x.m.len() >= x.quads * n * 4);
    assert!(cols.iter().all(|c| c.w.len() >= n * 32 && c.dw.len() >= n && c.wsum.len() >= n));
}

/// The tile, computed by the fastest implementation this build and machine have.
#[inline]
pub fn tile<const QT: usize, const CT: usize>(x: &Rows, q0: usize, cols: &[Column; CT]) -> Tile<QT, CT> {
    check::<QT, CT>(x, q0, cols);
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    {
        // SAFETY: bounds asserted by `check`; the target feature is enabled for the whole build.
        unsafe { relaxed::tile::<QT, CT>(x, q0, cols) }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128", not(target_feature = "relaxed-simd")))]
    {
        // SAFETY: bounds asserted by `check`; simd128 is enabled for the whole build.
        unsafe { simd128::tile::<QT, CT>(x, q0, cols) }
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("ssse3") {
            // SAFETY: bounds asserted by `check`; SSSE3 detected at run time.
            return unsafe { ssse3::tile::<QT, CT>(x, q0, cols) };
        }
        portable::tile::<QT, CT>(x, q0, cols)
    }
    #[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
    {
        portable::tile::<QT, CT>(x, q0, cols)
    }
}

/// The specification: plain loops, the arithmetic of the module docs.
pub mod portable {
    use super::{check, Column, Rows, Tile, QUAD_BLOCK};

    pub fn tile<const QT: usize, const CT: usize>(x: &Rows, q0: usize, cols: &[Column; CT]) -> Tile<QT, CT> {
        check::<QT, CT>(x, q0, cols);
        let mut out = [[[0f32; 4]; QT]; CT];
        for (c, col) in cols.iter().enumerate() {
            for (q, acc) in out[c].iter_mut().enumerate() {
                for b in 0..x.blocks {
                    let base = ((q0 + q) * x.blocks + b) * QUAD_BLOCK;
                    for (r, a) in acc.iter_mut().enumerate() {
                        let mut isum = 0i32;
                        for j in 0..32 {
                            let u = x.u[base + (j / 4) * 16 + r * 4 + j % 4];
                            isum += col.w[b * 32 + j] as i32 * u as i32;
                        }
                        let i = ((q0 + q) * x.blocks + b) * 4 + r;
                        *a = (*a + isum as f32 * (x.d[i] * col.dw[b])) + x.m[i] * col.wsum[b];
                    }
                }
            }
        }
        out
    }
}

/// `i32x4.relaxed_dot_i8x16_i7x16_add_s`: sixteen multiply-adds in one instruction (`vpdpbusd` on x86 with
/// AVX-VNNI, `pmaddubsw` + `pmaddwd` without; `sdot` on Arm).
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
mod relaxed {
    use super::{Column, Rows, Tile, QUAD_BLOCK, STEPS};
    use core::arch::wasm32::*;

    #[inline(always)]
    pub unsafe fn tile<const QT: usize, const CT: usize>(x: &Rows, q0: usize, cols: &[Column; CT]) -> Tile<QT, CT> {
        let mut facc = [[f32x4_splat(0.0); QT]; CT];
        for b in 0..x.blocks {
            let mut iacc = [[i32x4_splat(0); QT]; CT];
            for s in 0..STEPS {
                let mut w = [i32x4_splat(0); CT];
                for c in 0..CT {
                    w[c] = v128_load32_splat(cols[c].w.as_ptr().add(b * 32 + s * 4) as *const u32);
                }
                for q in 0..QT {
                    let p = x.u.as_ptr().add(((q0 + q) * x.blocks + b) * QUAD_BLOCK + s * 16) as *const v128;
                    let xv = v128_load(p);
                    for c in 0..CT {
                        iacc[c][q] = i32x4_relaxed_dot_i8x16_i7x16_add(w[c], xv, iacc[c][q]);
                    }
                }
            }
            for q in 0..QT {
                let i = ((q0 + q) * x.blocks + b) * 4;
                let d = v128_load(x.d.as_ptr().add(i) as *const v128);
                let m = v128_load(x.m.as_ptr().add(i) as *const v128);
                for c in 0..CT {
                    let scale = f32x4_mul(d, f32x4_splat(*cols[c].dw.get_unchecked(b)));
                    let sum = f32x4_add(facc[c][q], f32x4_mul(f32x4_convert_i32x4(iacc[c][q]), scale));
                    facc[c][q] = f32x4_add(sum, f32x4_mul(m, f32x4_splat(*cols[c].wsum.get_unchecked(b))));
                }
            }
        }
        let mut out = [[[0f32; 4]; QT]; CT];
        for c in 0..CT {
            for q in 0..QT {
                v128_store(out[c][q].as_mut_ptr() as *mut v128, facc[c][q]);
            }
        }
        out
    }
}

/// WebAssembly SIMD128 without relaxed SIMD (Safari, older engines): the operands widened to i16 and
/// `i32x4.dot_i16x8_s`; same integer sums, so the same bits.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128", not(target_feature = "relaxed-simd")))]
mod simd128 {
    use super::{Column, Rows, Tile, QUAD_BLOCK, STEPS};
    use core::arch::wasm32::*;

    #[inline(always)]
    pub unsafe fn tile<const QT: usize, const CT: usize>(x: &Rows, q0: usize, cols: &[Column; CT]) -> Tile<QT, CT> {
        let mut facc = [[f32x4_splat(0.0); QT]; CT];
        for b in 0..x.blocks {
            // rows 0,1 and rows 2,3: lanes [r·(k0+k1), r·(k2+k3), r'·(k0+k1), r'·(k2+k3)]
            let mut lo = [[i32x4_splat(0); QT]; CT];
            let mut hi = [[i32x4_splat(0); QT]; CT];
            for s in 0..STEPS {
                let mut w = [i32x4_splat(0); CT];
                for c in 0..CT {
                    // four weights, widened and repeated: [w0 w1 w2 w3 w0 w1 w2 w3]
                    w[c] =
                        i16x8_extend_low_i8x16(v128_load32_splat(cols[c].w.as_ptr().add(b * 32 + s * 4) as *const u32));
                }
                for q in 0..QT {
                    let xv =
                        v128_load(x.u.as_ptr().add(((q0 + q) * x.blocks + b) * QUAD_BLOCK + s * 16) as *const v128);
                    let (xl, xh) = (u16x8_extend_low_u8x16(xv), u16x8_extend_high_u8x16(xv));
                    for c in 0..CT {
                        lo[c][q] = i32x4_add(lo[c][q], i32x4_dot_i16x8(xl, w[c]));
                        hi[c][q] = i32x4_add(hi[c][q], i32x4_dot_i16x8(xh, w[c]));
                    }
                }
            }
            for q in 0..QT {
                let i = ((q0 + q) * x.blocks + b) * 4;
                let d = v128_load(x.d.as_ptr().add(i) as *const v128);
                let m = v128_load(x.m.as_ptr().add(i) as *const v128);
                for c in 0..CT {
                    let (l, h) = (lo[c][q], hi[c][q]);
                    let isum = i32x4_add(i32x4_shuffle::<0, 2, 4, 6>(l, h), i32x4_shuffle::<1, 3, 5, 7>(l, h));
                    let scale = f32x4_mul(d, f32x4_splat(*cols[c].dw.get_unchecked(b)));
                    let sum = f32x4_add(facc[c][q], f32x4_mul(f32x4_convert_i32x4(isum), scale));
                    facc[c][q] = f32x4_add(sum, f32x4_mul(m, f32x4_splat(*cols[c].wsum.get_unchecked(b))));
                }
            }
        }
        let mut out = [[[0f32; 4]; QT]; CT];
        for c in 0..CT {
            for q in 0..QT {
                v128_store(out[c][q].as_mut_ptr() as *mut v128, facc[c][q]);
            }
        }
        out
    }
}

/// x86 SSSE3 (the native CLI): `pmaddubsw` (u8 × i8 pairs, no saturation with u ≤ 127) + `pmaddwd` by ones is
/// the relaxed dot product.
#[cfg(target_arch = "x86_64")]
pub mod ssse3 {
    use super::{Column, Rows, Tile, QUAD_BLOCK, STEPS};
    use core::arch::x86_64::*;

    /// # Safety
    /// SSSE3 must be available, and the slices as long as [`super::tile`] checks.
    #[target_feature(enable = "ssse3")]
    pub unsafe fn tile<const QT: usize, const CT: usize>(x: &Rows, q0: usize, cols: &[Column; CT]) -> Tile<QT, CT> {
        let ones = _mm_set1_epi16(1);
        let mut facc = [[_mm_setzero_ps(); QT]; CT];
        for b in 0..x.blocks {
            let mut iacc = [[_mm_setzero_si128(); QT]; CT];
            for s in 0..STEPS {
                let mut w = [_mm_setzero_si128(); CT];
                for c in 0..CT {
                    let p = cols[c].w.as_ptr().add(b * 32 + s * 4) as *const i32;
                    w[c] = _mm_set1_epi32(p.read_unaligned());
                }
                for q in 0..QT {
                    let p = x.u.as_ptr().add(((q0 + q) * x.blocks + b) * QUAD_BLOCK + s * 16);
                    let xv = _mm_loadu_si128(p as *const __m128i);
                    for c in 0..CT {
                        let pairs = _mm_maddubs_epi16(xv, w[c]);
                        iacc[c][q] = _mm_add_epi32(iacc[c][q], _mm_madd_epi16(pairs, ones));
                    }
                }
            }
            for q in 0..QT {
                let i = ((q0 + q) * x.blocks + b) * 4;
                let (d, m) = (_mm_loadu_ps(x.d.as_ptr().add(i)), _mm_loadu_ps(x.m.as_ptr().add(i)));
                for c in 0..CT {
                    let scale = _mm_mul_ps(d, _mm_set1_ps(*cols[c].dw.get_unchecked(b)));
                    let sum = _mm_add_ps(facc[c][q], _mm_mul_ps(_mm_cvtepi32_ps(iacc[c][q]), scale));
                    facc[c][q] = _mm_add_ps(sum, _mm_mul_ps(m, _mm_set1_ps(*cols[c].wsum.get_unchecked(b))));
                }
            }
        }
        let mut out = [[[0f32; 4]; QT]; CT];
        for c in 0..CT {
            for q in 0..QT {
                _mm_storeu_ps(out[c][q].as_mut_ptr(), facc[c][q]);
            }
        }
        out
    }
}
