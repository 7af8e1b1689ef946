//! libjpeg-turbo's accurate integer inverse DCT (JDCT_ISLOW, the default and so Pillow's), dequantization
//! included, as its x86-64 SIMD code computes it (jidctint-avx2.asm; jidctint-sse2.asm does the same
//! arithmetic): 16-bit lanes with wrap-around where the assembly adds words (`vpaddw`, `vpmullw`),
//! exact 32-bit products (`vpmaddwd`) and saturation where it packs (`vpackssdw`, `vpacksswb`).
//!
//! For data an encoder produces every intermediate fits and this equals jidctint.c. Corrupt or hand-made
//! coefficients overflow 16 bits, and then only this model gives Pillow's bytes (a 500x500 test file had 3
//! blocks with up to ±255 per sample when the C arithmetic was followed).

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;
/// Right shifts after pass 1 (columns) and pass 2 (rows, which also removes the factor 8).
const DESCALE_P1: u32 = CONST_BITS - PASS1_BITS;
const DESCALE_P2: u32 = CONST_BITS + PASS1_BITS + 3;
const F_0_298: i32 = 2446;
const F_0_390: i32 = 3196;
const F_0_541: i32 = 4433;
const F_0_765: i32 = 6270;
const F_0_899: i32 = 7373;
const F_1_175: i32 = 9633;
const F_1_501: i32 = 12299;
const F_1_847: i32 = 15137;
const F_1_961: i32 = 16069;
const F_2_053: i32 = 16819;
const F_2_562: i32 = 20995;
const F_3_072: i32 = 25172;

/// `a * ca + b * cb` for 16-bit `a`, `b`: one `vpmaddwd` lane (exact; the constants are below 2^15).
#[inline]
fn madd(a: i16, ca: i32, b: i16, cb: i32) -> i32 {
    (i32::from(a) * ca).wrapping_add(i32::from(b) * cb)
}

/// One 1-D pass (the `dodct` macro) on 8 words, descaled by `shift` and saturated to 16 bits.
#[inline]
fn dodct(v: [i16; 8], shift: u32) -> [i16; 8] {
    // Even part: tmp3 = in2 * (0.541 + 0.765) + in6 * 0.541, tmp2 = in2 * 0.541 + in6 * (0.541 - 1.848).
    let tmp3 = madd(v[2], F_0_541 + F_0_765, v[6], F_0_541);
    let tmp2 = madd(v[2], F_0_541, v[6], F_0_541 - F_1_847);
    // in0 ± in4 in 16 bits, then widened and scaled by 2^CONST_BITS.
    let tmp0 = i32::from(v[0].wrapping_add(v[4])) << CONST_BITS;
    let tmp1 = i32::from(v[0].wrapping_sub(v[4])) << CONST_BITS;
    let (tmp10, tmp13) = (tmp0.wrapping_add(tmp3), tmp0.wrapping_sub(tmp3));
    let (tmp11, tmp12) = (tmp1.wrapping_add(tmp2), tmp1.wrapping_sub(tmp2));

    // Odd part: z3 = in7 + in3 and z4 = in5 + in1 in 16 bits; z5 folded into the constants.
    let (z3, z4) = (v[7].wrapping_add(v[3]), v[5].wrapping_add(v[1]));
    let z3p = madd(z3, F_1_175 - F_1_961, z4, F_1_175);
    let z4p = madd(z3, F_1_175, z4, F_1_175 - F_0_390);
    let t0 = madd(v[7], F_0_298 - F_0_899, v[1], -F_0_899).wrapping_add(z3p);
    let t1 = madd(v[5], F_2_053 - F_2_562, v[3], -F_2_562).wrapping_add(z4p);
    let t2 = madd(v[5], -F_2_562, v[3], F_3_072 - F_2_562).wrapping_add(z3p);
    let t3 = madd(v[7], -F_0_899, v[1], F_1_501 - F_0_899).wrapping_add(z4p);

    let out = |x: i32| (x.wrapping_add(1 << (shift - 1)) >> shift).clamp(-32768, 32767) as i16;
    [
        out(tmp10.wrapping_add(t3)),
        out(tmp11.wrapping_add(t2)),
        out(tmp12.wrapping_add(t1)),
        out(tmp13.wrapping_add(t0)),
        out(tmp13.wrapping_sub(t0)),
        out(tmp12.wrapping_sub(t1)),
        out(tmp11.wrapping_sub(t2)),
        out(tmp10.wrapping_sub(t3)),
    ]
}

/// Dequantize and inverse-transform one block (natural order) into 8 rows of `out` starting at `out[0]`,
/// `stride` bytes apart.
pub fn idct_islow(coefs: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    // (8, 8) dequantized coefficients: the low 16 bits of the product (`vpmullw`; libjpeg-turbo keeps the
    // quantization table as 16-bit words).
    let deq: [i16; 64] = std::array::from_fn(|i| coefs[i].wrapping_mul(quant[i] as i16));
    // (8, 8) pass-1 output. When rows 1..7 of the *quantized* block are all zero, the assembly skips the
    // column transform and shifts the dequantized DC row left by PASS1_BITS in 16 bits (wrapping), where
    // the full transform would saturate.
    let mut ws = [0i16; 64];
    if coefs[8..].iter().all(|&c| c == 0) {
        for r in 0..8 {
            for c in 0..8 {
                ws[r * 8 + c] = deq[c].wrapping_shl(PASS1_BITS);
            }
        }
    } else {
        for c in 0..8 {
            let col = dodct(std::array::from_fn(|r| deq[r * 8 + c]), DESCALE_P1);
            for (r, &x) in col.iter().enumerate() {
                ws[r * 8 + c] = x;
            }
        }
    }
    // Pass 2: rows → samples; packing to signed bytes saturates, then +128 (CENTERJSAMPLE).
    for (r, w) in ws.chunks_exact(8).enumerate() {
        let row = dodct(std::array::from_fn(|c| w[c]), DESCALE_P2);
        for (d, x) in out[r * stride..r * stride + 8].iter_mut().zip(row) {
            *d = (x.clamp(-128, 127) + 128) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_only_block_is_flat() {
        // DC 80 with quant 2: dequantized 160, /8 → 20 above mid-gray.
        let mut c = [0i16; 64];
        c[0] = 80;
        let mut q = [1u16; 64];
        q[0] = 2;
        let mut out = [0u8; 64];
        idct_islow(&c, &q, &mut out, 8);
        assert!(out.iter().all(|&p| p == 148));
    }

    #[test]
    fn sixteen_bit_wrap_and_saturation() {
        // DC-only block, dequantized 10000: the shortcut's 16-bit shift wraps 40000 to -25536, so the block
        // is black (exact arithmetic, 10000 / 8 above mid-gray, would give white).
        let mut c = [0i16; 64];
        c[0] = 10000;
        let mut out = [0u8; 64];
        idct_islow(&c, &[1; 64], &mut out, 8);
        assert!(out.iter().all(|&p| p == 0), "{out:?}");
        // With one AC term the full column transform runs and saturates 40000 to 32767 instead: white.
        c[8] = 1;
        idct_islow(&c, &[1; 64], &mut out, 8);
        assert!(out.iter().all(|&p| p == 255), "{out:?}");
    }
}
