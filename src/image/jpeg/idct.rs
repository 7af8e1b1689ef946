//! libjpeg's accurate integer inverse DCT (jidctint.c, JDCT_ISLOW, the default in libjpeg-turbo and so in
//! Pillow), dequantization included. libjpeg-turbo's SIMD versions give the same bytes for any data an
//! encoder produces; for corrupt coefficients see `range_limit`.

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;
const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

/// Round and shift right (DESCALE).
#[inline]
fn descale(x: i32, n: u32) -> i32 {
    x.wrapping_add(1 << (n - 1)) >> n
}

/// The level shift (+128) and clamp to 0..=255 after the IDCT. jidctint.c indexes a table by the low 10 bits
/// (so far-out values alias); libjpeg-turbo's SIMD IDCTs, which Pillow's builds run, saturate through
/// 16 and 8 bits instead. Only corrupt data gets that far out; we follow the SIMD result.
#[inline]
fn range_limit(x: i32) -> u8 {
    (x.clamp(-128, 127) + 128) as u8
}

/// One 1-D pass of the even/odd butterfly on 8 values; returns the 8 outputs before descaling.
#[inline]
fn butterfly(v: [i32; 8]) -> [i32; 8] {
    // Even part: reverse the even part of the forward DCT; the rotator is sqrt(2) * c(-6).
    let (z2, z3) = (v[2], v[6]);
    let z1 = z2.wrapping_add(z3).wrapping_mul(FIX_0_541196100);
    let tmp2 = z1.wrapping_add(z3.wrapping_mul(-FIX_1_847759065));
    let tmp3 = z1.wrapping_add(z2.wrapping_mul(FIX_0_765366865));
    let tmp0 = v[0].wrapping_add(v[4]).wrapping_shl(CONST_BITS);
    let tmp1 = v[0].wrapping_sub(v[4]).wrapping_shl(CONST_BITS);
    let (tmp10, tmp13) = (tmp0.wrapping_add(tmp3), tmp0.wrapping_sub(tmp3));
    let (tmp11, tmp12) = (tmp1.wrapping_add(tmp2), tmp1.wrapping_sub(tmp2));

    // Odd part per figure 8 of the libjpeg notes; i0..i3 are y7, y5, y3, y1.
    let (t0, t1, t2, t3) = (v[7], v[5], v[3], v[1]);
    let z1 = t0.wrapping_add(t3);
    let z2 = t1.wrapping_add(t2);
    let z3 = t0.wrapping_add(t2);
    let z4 = t1.wrapping_add(t3);
    let z5 = z3.wrapping_add(z4).wrapping_mul(FIX_1_175875602);
    let t0 = t0.wrapping_mul(FIX_0_298631336);
    let t1 = t1.wrapping_mul(FIX_2_053119869);
    let t2 = t2.wrapping_mul(FIX_3_072711026);
    let t3 = t3.wrapping_mul(FIX_1_501321110);
    let z1 = z1.wrapping_mul(-FIX_0_899976223);
    let z2 = z2.wrapping_mul(-FIX_2_562915447);
    let z3 = z3.wrapping_mul(-FIX_1_961570560).wrapping_add(z5);
    let z4 = z4.wrapping_mul(-FIX_0_390180644).wrapping_add(z5);
    let t0 = t0.wrapping_add(z1).wrapping_add(z3);
    let t1 = t1.wrapping_add(z2).wrapping_add(z4);
    let t2 = t2.wrapping_add(z2).wrapping_add(z3);
    let t3 = t3.wrapping_add(z1).wrapping_add(z4);

    [
        tmp10.wrapping_add(t3),
        tmp11.wrapping_add(t2),
        tmp12.wrapping_add(t1),
        tmp13.wrapping_add(t0),
        tmp13.wrapping_sub(t0),
        tmp12.wrapping_sub(t1),
        tmp11.wrapping_sub(t2),
        tmp10.wrapping_sub(t3),
    ]
}

/// Dequantize and inverse-transform one block (natural order) into 8 rows of `out` starting at `out[0]`,
/// `stride` bytes apart.
pub fn idct_islow(coefs: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    let mut ws = [0i32; 64];
    // Pass 1: columns → work array, scaled up by sqrt(8) * 2^PASS1_BITS. A column whose AC terms are all
    // zero gives the same result as the full butterfly; libjpeg shortcuts it, so may we.
    for col in 0..8 {
        let v: [i32; 8] = std::array::from_fn(|r| i32::from(coefs[r * 8 + col]) * i32::from(quant[r * 8 + col]));
        if v[1..].iter().all(|&x| x == 0) {
            for r in 0..8 {
                ws[r * 8 + col] = v[0].wrapping_shl(PASS1_BITS);
            }
            continue;
        }
        let o = butterfly(v);
        for r in 0..8 {
            // The SIMD code packs pass-1 results to 16 bits with saturation (equal for uncorrupted data).
            ws[r * 8 + col] = descale(o[r], CONST_BITS - PASS1_BITS).clamp(-32768, 32767);
        }
    }
    // Pass 2: rows → samples, removing the PASS1_BITS and the factor 8.
    for (row, w) in ws.chunks_exact(8).enumerate() {
        let dst = &mut out[row * stride..row * stride + 8];
        let w: [i32; 8] = std::array::from_fn(|i| w[i]);
        if w[1..].iter().all(|&x| x == 0) {
            dst.fill(range_limit(descale(w[0], PASS1_BITS + 3)));
            continue;
        }
        let o = butterfly(w);
        for (d, x) in dst.iter_mut().zip(o) {
            *d = range_limit(descale(x, CONST_BITS + PASS1_BITS + 3));
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
    fn range_limit_table() {
        assert_eq!([range_limit(-129), range_limit(-128), range_limit(0), range_limit(127)], [0, 0, 128, 255]);
        assert_eq!([range_limit(300), range_limit(-300), range_limit(5000)], [255, 0, 255]);
    }
}
