//! JPEG marker segments: frame (SOF0/1/2), quantization (DQT) and Huffman (DHT) tables, scan headers (SOS),
//! and the APP0 (JFIF) / APP14 (Adobe) facts libjpeg uses to pick the colour space.

use super::huffman::HuffTable;
use super::Unsupported;

/// Zigzag position → natural (row-major) position, with libjpeg's 16 extra entries so that a corrupt run
/// that overshoots position 63 writes harmlessly to 63 (jpeg_natural_order in jutils.c).
pub const NATURAL_ORDER: [usize; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
];

/// One image component (Y, Cb, Cr, C, M, Y or K).
pub struct Component {
    pub id: u8,
    /// Sampling factors, 1..=4.
    pub h: usize,
    pub v: usize,
    /// Quantization table slot (0..=3) named by the frame header.
    pub tq: usize,
    /// The table in natural order, copied when the component's first scan starts (libjpeg's latch_quant_tables).
    pub quant: Option<[u16; 64]>,
    /// Samples per line and lines of this component: ceil(width * h / max_h), ceil(height * v / max_v).
    pub dw: usize,
    pub dh: usize,
    /// Blocks per line and block rows allocated, padded to whole MCUs: mcus_x * h, mcus_y * v.
    pub bw: usize,
    pub bh: usize,
    /// (bh * bw, 64) coefficients, natural order, quantized.
    pub coefs: Vec<i16>,
}

pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub progressive: bool,
    pub comps: Vec<Component>,
    pub max_h: usize,
    pub max_v: usize,
    /// MCUs per row and MCU rows of an interleaved scan.
    pub mcus_x: usize,
    pub mcus_y: usize,
}

/// A scan header (SOS): the components it codes (indices into Frame::comps) with their table slots,
/// the spectral selection and the successive-approximation bits.
pub struct Scan {
    pub comps: Vec<(usize, usize, usize)>, // (component index, DC table, AC table)
    pub ss: usize,
    pub se: usize,
    pub ah: u8,
    pub al: u8,
}

/// The tables and flags in force while markers are read.
#[derive(Default)]
pub struct Tables {
    pub quant: [Option<[u16; 64]>; 4],
    pub dc: [Option<HuffTable>; 4],
    pub ac: [Option<HuffTable>; 4],
    pub restart_interval: usize,
    pub saw_jfif: bool,
    pub adobe_transform: Option<u8>,
}

pub fn u16_at(d: &[u8], i: usize) -> Result<usize, Unsupported> {
    match d.get(i..i + 2) {
        Some(b) => Ok(usize::from(u16::from_be_bytes([b[0], b[1]]))),
        None => Err(Unsupported("a marker segment is cut short")),
    }
}

/// APP0 / APP14 payloads (after the length field): libjpeg's examine_app0 / examine_app14.
pub fn read_app(marker: u8, data: &[u8], t: &mut Tables) {
    if marker == 0xE0 && data.len() >= 14 && data.starts_with(b"JFIF\0") {
        t.saw_jfif = true;
    }
    if marker == 0xEE && data.len() >= 12 && data.starts_with(b"Adobe") {
        t.adobe_transform = Some(data[11]);
    }
}

/// DQT: one or more tables, values in zigzag order, 8- or 16-bit.
pub fn read_dqt(mut d: &[u8], t: &mut Tables) -> Result<(), Unsupported> {
    while let Some(&pq_tq) = d.first() {
        let (precision, slot) = (pq_tq >> 4, usize::from(pq_tq & 15));
        let n = if precision == 0 { 64 } else { 128 };
        if slot > 3 || precision > 1 || d.len() < 1 + n {
            return Err(Unsupported("a quantization table is malformed"));
        }
        let mut table = [0u16; 64];
        for (k, &pos) in NATURAL_ORDER[..64].iter().enumerate() {
            table[pos] =
                if precision == 0 { u16::from(d[1 + k]) } else { u16::from_be_bytes([d[1 + 2 * k], d[2 + 2 * k]]) };
        }
        t.quant[slot] = Some(table);
        d = &d[1 + n..];
    }
    Ok(())
}

/// DHT: one or more tables (class 0 = DC, 1 = AC).
pub fn read_dht(mut d: &[u8], t: &mut Tables) -> Result<(), Unsupported> {
    while d.len() >= 17 {
        let (class, slot) = (d[0] >> 4, usize::from(d[0] & 15));
        let counts: [u8; 16] = d[1..17].try_into().map_err(|_| Unsupported("a Huffman table is malformed"))?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if class > 1 || slot > 3 || total > 256 || d.len() < 17 + total {
            return Err(Unsupported("a Huffman table is malformed"));
        }
        // jdhuff.c rejects DC symbols above 15 (a magnitude category needs at most 15 bits here).
        if class == 0 && d[17..17 + total].iter().any(|&s| s > 15) {
            return Err(Unsupported("a DC Huffman table has a symbol above 15"));
        }
        let table = HuffTable::new(&counts, &d[17..17 + total])?;
        if class == 0 {
            t.dc[slot] = Some(table);
        } else {
            t.ac[slot] = Some(table);
        }
        d = &d[17 + total..];
    }
    if d.is_empty() {
        Ok(())
    } else {
        Err(Unsupported("a Huffman table is malformed"))
    }
}

/// SOF0 (baseline), SOF1 (extended sequential) or SOF2 (progressive), Huffman-coded, 8-bit.
pub fn read_sof(marker: u8, d: &[u8]) -> Result<Frame, Unsupported> {
    if d.len() < 6 || d[0] != 8 {
        return Err(Unsupported("only 8-bit JPEGs are decoded exactly"));
    }
    let (height, width, n) = (u16_at(d, 1)?, u16_at(d, 3)?, usize::from(d[5]));
    if height == 0 || width == 0 {
        return Err(Unsupported("the height is given later by a DNL marker"));
    }
    if !(n == 1 || n == 3 || n == 4) || d.len() < 6 + 3 * n {
        return Err(Unsupported("only 1, 3 or 4 components are decoded exactly"));
    }
    let mut comps = Vec::with_capacity(n);
    for c in d[6..6 + 3 * n].chunks_exact(3) {
        let (h, v, tq) = (usize::from(c[1] >> 4), usize::from(c[1] & 15), usize::from(c[2]));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || tq > 3 {
            return Err(Unsupported("a component has invalid sampling factors or table"));
        }
        comps.push(Component { id: c[0], h, v, tq, quant: None, dw: 0, dh: 0, bw: 0, bh: 0, coefs: Vec::new() });
    }
    let max_h = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let max_v = comps.iter().map(|c| c.v).max().unwrap_or(1);
    let mcus_x = width.div_ceil(8 * max_h);
    let mcus_y = height.div_ceil(8 * max_v);
    for c in &mut comps {
        c.dw = (width * c.h).div_ceil(max_h);
        c.dh = (height * c.v).div_ceil(max_v);
        c.bw = mcus_x * c.h;
        c.bh = mcus_y * c.v;
    }
    Ok(Frame { width, height, progressive: marker == 0xC2, comps, max_h, max_v, mcus_x, mcus_y })
}

/// SOS header (the bytes after the length field).
pub fn read_sos(d: &[u8], frame: &Frame) -> Result<Scan, Unsupported> {
    let bad = Unsupported("a scan header is malformed");
    let n = usize::from(*d.first().ok_or(bad)?);
    if !(1..=4).contains(&n) || d.len() < 4 + 2 * n {
        return Err(bad);
    }
    let mut comps = Vec::with_capacity(n);
    for s in d[1..1 + 2 * n].chunks_exact(2) {
        let ci = frame.comps.iter().position(|c| c.id == s[0]).ok_or(bad)?;
        let (td, ta) = (usize::from(s[1] >> 4), usize::from(s[1] & 15));
        if td > 3 || ta > 3 || comps.iter().any(|&(c, _, _)| c == ci) {
            return Err(bad);
        }
        comps.push((ci, td, ta));
    }
    let p = 1 + 2 * n;
    let (ss, se, ah, al) = (usize::from(d[p]), usize::from(d[p + 1]), d[p + 2] >> 4, d[p + 2] & 15);
    if frame.progressive {
        // jdphuff.c start_pass_phuff_decoder's validity checks.
        let bad_dc = ss == 0 && se != 0;
        let bad_ac = ss != 0 && (se < ss || se > 63 || n != 1);
        if bad_dc || bad_ac || al > 13 || (ah != 0 && ah != al + 1) {
            return Err(Unsupported("a progressive scan has invalid parameters"));
        }
    } else if ss != 0 || se != 63 || ah != 0 || al != 0 {
        return Err(Unsupported("a sequential scan has invalid parameters"));
    }
    let blocks: usize = comps.iter().map(|&(c, _, _)| frame.comps[c].h * frame.comps[c].v).sum();
    if n > 1 && blocks > 10 {
        return Err(Unsupported("an MCU has more than 10 blocks"));
    }
    Ok(Scan { comps, ss, se, ah, al })
}
