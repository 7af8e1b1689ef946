//! One scan's entropy-coded data → quantized DCT coefficients, sequential (jdhuff.c) or progressive
//! (jdphuff.c: DC first/refine, AC first/refine), with restart intervals and libjpeg's handling of data
//! that ends early.

use super::header::{Frame, Scan, Tables, NATURAL_ORDER};
use super::huffman::{BitReader, HuffTable};
use super::Unsupported;

/// How the blocks of a scan are coded.
enum Mode<'t> {
    Sequential,
    DcFirst,
    DcRefine,
    AcFirst(&'t HuffTable),
    AcRefine(&'t HuffTable),
}

/// Decode the scan whose entropy-coded data starts at `data[pos]` into `frame`'s coefficient buffers.
/// Returns the offset where decoding stopped (at or before the marker that follows the data).
pub fn decode_scan(data: &[u8], pos: usize, frame: &mut Frame, scan: &Scan, t: &Tables) -> Result<usize, Unsupported> {
    let missing = Unsupported("a scan uses a table that was not defined");
    // Latch each component's quantization table at its first scan (jdinput.c latch_quant_tables).
    for &(ci, td, ta) in &scan.comps {
        let comp = &mut frame.comps[ci];
        if comp.quant.is_none() {
            comp.quant = Some(t.quant[comp.tq].ok_or(missing)?);
        }
        if comp.coefs.is_empty() {
            comp.coefs = vec![0; comp.bw * comp.bh * 64];
        }
        let needs_dc = !frame.progressive || (scan.ss == 0 && scan.ah == 0);
        let needs_ac = !frame.progressive || scan.ss > 0;
        if (needs_dc && t.dc[td].is_none()) || (needs_ac && t.ac[ta].is_none()) {
            return Err(missing);
        }
    }
    let mode = match (frame.progressive, scan.ss == 0, scan.ah == 0) {
        (false, _, _) => Mode::Sequential,
        (true, true, true) => Mode::DcFirst,
        (true, true, false) => Mode::DcRefine,
        (true, false, first) => {
            let table = t.ac[scan.comps[0].2].as_ref().ok_or(missing)?;
            if first {
                Mode::AcFirst(table)
            } else {
                Mode::AcRefine(table)
            }
        }
    };

    let single = scan.comps.len() == 1;
    let (mcus_x, mcus_y) = if single {
        let c = &frame.comps[scan.comps[0].0];
        (c.dw.div_ceil(8), c.dh.div_ceil(8))
    } else {
        (frame.mcus_x, frame.mcus_y)
    };
    let mut bits = BitReader::new(data, pos);
    let mut preds = [0i32; 4];
    let mut eobrun = 0u32;
    let mut next_rst = 0u8;
    for m in 0..mcus_x * mcus_y {
        if t.restart_interval > 0 && m > 0 && m % t.restart_interval == 0 {
            bits.restart(next_rst)?;
            next_rst = (next_rst + 1) & 7;
            preds = [0; 4];
            eobrun = 0;
        }
        // Out of data: libjpeg leaves the rest of the interval as it is (zero, i.e. gray, when sequential).
        if bits.insufficient {
            continue;
        }
        let (mx, my) = (m % mcus_x, m / mcus_x);
        for (k, &(ci, td, _)) in scan.comps.iter().enumerate() {
            let comp = &mut frame.comps[ci];
            let (nv, nh) = if single { (1, 1) } else { (comp.v, comp.h) };
            for by in 0..nv {
                for bx in 0..nh {
                    let (row, col) = if single { (my, mx) } else { (my * comp.v + by, mx * comp.h + bx) };
                    let start = (row * comp.bw + col) * 64;
                    let Some(block) = comp.coefs.get_mut(start..start + 64) else {
                        return Err(Unsupported("a block lies outside the image"));
                    };
                    let block: &mut [i16; 64] = block.try_into().map_err(|_| missing)?;
                    let dc = t.dc[td].as_ref();
                    match &mode {
                        Mode::Sequential => {
                            let (dc, ac) = (dc.ok_or(missing)?, t.ac[scan.comps[k].2].as_ref().ok_or(missing)?);
                            sequential(&mut bits, dc, ac, &mut preds[k], block);
                        }
                        Mode::DcFirst => {
                            let s = u32::from(dc.ok_or(missing)?.decode(&mut bits));
                            preds[k] = preds[k].wrapping_add(bits.extend(s));
                            block[0] = preds[k].wrapping_shl(u32::from(scan.al)) as i16;
                        }
                        Mode::DcRefine => {
                            if bits.bits(1) != 0 {
                                block[0] |= 1 << scan.al;
                            }
                        }
                        Mode::AcFirst(ac) => ac_first(&mut bits, ac, scan, &mut eobrun, block),
                        Mode::AcRefine(ac) => ac_refine(&mut bits, ac, scan, &mut eobrun, block),
                    }
                }
            }
        }
    }
    Ok(bits.marker.unwrap_or(bits.pos))
}

/// A baseline / extended sequential block: DC difference, then run-length coded AC.
fn sequential(bits: &mut BitReader, dc: &HuffTable, ac: &HuffTable, pred: &mut i32, block: &mut [i16; 64]) {
    let s = u32::from(dc.decode(bits));
    *pred = pred.wrapping_add(bits.extend(s));
    block[0] = *pred as i16;
    let mut k = 1;
    while k < 64 {
        let rs = ac.decode(bits);
        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r;
            block[NATURAL_ORDER[k]] = bits.extend(s) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            break;
        }
        k += 1;
    }
}

/// First pass over an AC band: values scaled by 2^Al, with end-of-band runs across blocks.
fn ac_first(bits: &mut BitReader, ac: &HuffTable, scan: &Scan, eobrun: &mut u32, block: &mut [i16; 64]) {
    if *eobrun > 0 {
        *eobrun -= 1;
        return;
    }
    let mut k = scan.ss;
    while k <= scan.se {
        let rs = ac.decode(bits);
        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r;
            block[NATURAL_ORDER[k]] = (bits.extend(s) as u32).wrapping_shl(u32::from(scan.al)) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            *eobrun = (1u32 << r) + bits.bits(r as u32) as u32 - 1;
            break;
        }
        k += 1;
    }
}

/// Refinement of an AC band: one more bit for every coefficient already nonzero, and newly nonzero ±2^Al
/// coefficients placed after runs of zero coefficients (jdphuff.c decode_mcu_AC_refine).
fn ac_refine(bits: &mut BitReader, ac: &HuffTable, scan: &Scan, eobrun: &mut u32, block: &mut [i16; 64]) {
    let p1: i16 = 1 << scan.al;
    let m1: i16 = (-1i16).wrapping_shl(u32::from(scan.al));
    let refine = |bits: &mut BitReader, coef: &mut i16| {
        if bits.bits(1) != 0 && *coef & p1 == 0 {
            *coef = coef.wrapping_add(if *coef >= 0 { p1 } else { m1 });
        }
    };
    let mut k = scan.ss;
    if *eobrun == 0 {
        while k <= scan.se {
            let rs = ac.decode(bits);
            let (mut r, s) = (i32::from(rs >> 4), rs & 15);
            let mut value = 0;
            if s != 0 {
                // s should be 1 (libjpeg only warns otherwise); the sign bit follows.
                value = if bits.bits(1) != 0 { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = (1u32 << r) + bits.bits(r as u32) as u32;
                break;
            }
            // Skip over already-nonzero coefficients (refining each) and r zero ones.
            while k <= scan.se {
                let coef = &mut block[NATURAL_ORDER[k]];
                if *coef != 0 {
                    refine(bits, coef);
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                k += 1;
            }
            if value != 0 {
                block[NATURAL_ORDER[k]] = value;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        // The rest of the band (after the last new coefficient) only gets correction bits.
        while k <= scan.se {
            let coef = &mut block[NATURAL_ORDER[k]];
            if *coef != 0 {
                refine(bits, coef);
            }
            k += 1;
        }
        *eobrun -= 1;
    }
}
