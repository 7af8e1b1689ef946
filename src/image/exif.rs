//! The EXIF orientation as Pillow reads it: `Image.Exif.load` (a TIFF structure, after up to two `Exif\0\0`
//! prefixes) and `TiffImagePlugin.ImageFileDirectory_v2.load` for the first IFD, reduced to the two tags
//! `ImageOps.exif_transpose` can use: 274 (Orientation) and, in TIFF files, 700 (XMP).
//!
//! Pillow's rules, kept here because real files break each of them:
//! - the first *stored* entry of a tag wins; entries of an unknown type, with count 0, or whose data lies
//!   past the end are skipped (a later entry of the same tag may then still count);
//! - out-of-line data (more than 4 bytes, 8 in BigTIFF) is also skipped once the out-of-line sizes of the
//!   IFD's entries so far add up to more than the whole block;
//! - a directory cut short keeps the entries read before the cut;
//! - the value is the first one of the entry, of the entry's own type: SHORT 6, LONG 6, RATIONAL 12/2 and
//!   DOUBLE 6.0 all mean "rotate", BYTE/UNDEFINED/ASCII values never match a transform.

/// What `Image.getexif()` holds under tag 274, as far as `exif_transpose` is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exif {
    /// Not a TIFF structure: Pillow's `Exif.load` raises (JPEG: it is then ignored).
    Invalid,
    /// A valid block without a usable Orientation entry (Pillow then looks at XMP).
    NoOrientation,
    /// An Orientation entry: 2..=8 name a transform, 1 stands for any other value.
    Orientation(u8),
}

/// Tag numbers.
const ORIENTATION: u16 = 274;
const XMP: u16 = 700;

/// Orientation of an EXIF block (JPEG APP1, PNG eXIf / raw profile, WebP EXIF chunk).
pub fn orientation(block: &[u8]) -> Exif {
    let mut data = block;
    for _ in 0..2 {
        data = data.strip_prefix(b"Exif\0\0").unwrap_or(data);
    }
    if data.is_empty() {
        return Exif::NoOrientation;
    }
    // Exif.load reads an 8-byte header; BigTIFF headers are 16 bytes, so Pillow fails on them too.
    match Header::parse(data) {
        Some(h) if !h.bigtiff => read(data, &h, h.ifd0, ORIENTATION).map_or(Exif::NoOrientation, |e| e.orientation()),
        _ => Exif::Invalid,
    }
}

/// Orientation and XMP packet (tag 700 as BYTE or UNDEFINED) of the first IFD of a TIFF file.
pub fn tiff(file: &[u8]) -> (Exif, Option<&[u8]>) {
    let Some(h) = Header::parse(file) else { return (Exif::Invalid, None) };
    let orientation = read(file, &h, h.ifd0, ORIENTATION).map_or(Exif::NoOrientation, |e| e.orientation());
    let xmp = read(file, &h, h.ifd0, XMP).filter(|e| matches!(e.typ, 1 | 7)).map(|e| e.data);
    (orientation, xmp)
}

/// What decoding a TIFF needs to know beyond the pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TiffLayout {
    /// Tiles (tags 322..=325) with one plane per channel (PlanarConfiguration 2, tag 284): the tiff crate
    /// 0.11 panics on these, so they are refused before it runs.
    pub tiled_planar: bool,
    /// ExtraSamples (tag 338) starts with 1, associated (premultiplied) alpha: Pillow's "RGBa" unpacking.
    pub associated_alpha: bool,
}

/// The layout facts of the first IFD of a TIFF file.
pub fn tiff_layout(file: &[u8]) -> TiffLayout {
    let Some(h) = Header::parse(file) else { return TiffLayout::default() };
    let first = |tag| read(file, &h, h.ifd0, tag).map(|e| e.first_uint());
    // Tiles: TileWidth, TileLength, TileOffsets or TileByteCounts (322..=325).
    let tiled = (322..=325).any(|tag| first(tag).is_some());
    TiffLayout { tiled_planar: tiled && first(284) == Some(2), associated_alpha: first(338) == Some(1) }
}

/// The TIFF header: byte order, classic or BigTIFF, offset of the first IFD.
struct Header {
    big_endian: bool,
    bigtiff: bool,
    ifd0: u64,
}

impl Header {
    /// Pillow's PREFIXES: MM\0*, II*\0, MM*\0, II\0*, MM\0+, II+\0. The byte order comes from the first two
    /// bytes; BigTIFF is byte 2 == '+' (so "MM\0+" counts as classic, as in Pillow).
    fn parse(d: &[u8]) -> Option<Header> {
        let magic = d.get(..4)?;
        let known: [&[u8]; 6] = [b"MM\0*", b"II*\0", b"MM*\0", b"II\0*", b"MM\0+", b"II+\0"];
        if !known.contains(&magic) {
            return None;
        }
        let big_endian = magic[0] == b'M';
        let bigtiff = magic[2] == b'+';
        let ifd0 = if bigtiff { uint(d.get(8..16)?, big_endian) } else { uint(d.get(4..8)?, big_endian) };
        Some(Header { big_endian, bigtiff, ifd0 })
    }
}

/// An unsigned integer of 1, 2, 4 or 8 bytes.
fn uint(b: &[u8], big_endian: bool) -> u64 {
    let fold = |acc: u64, &x: &u8| (acc << 8) | u64::from(x);
    if big_endian {
        b.iter().fold(0, fold)
    } else {
        b.iter().rev().fold(0, fold)
    }
}

/// Bytes per value of each TIFF type Pillow loads (ImageFileDirectory_v2._load_dispatch); 0 = not loaded.
fn unit_size(typ: u16) -> u64 {
    match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 => 8,
        _ => 0,
    }
}

/// A stored entry: its type and its value bytes (count × unit size).
struct Entry<'a> {
    typ: u16,
    data: &'a [u8],
    big_endian: bool,
}

impl Entry<'_> {
    /// The first value as an unsigned integer (SHORT, LONG, LONG8, IFD; other types give 0).
    fn first_uint(&self) -> u64 {
        match self.typ {
            3 | 4 | 13 | 16 => uint(&self.data[..unit_size(self.typ) as usize], self.big_endian),
            _ => 0,
        }
    }

    /// Which transform the first value names (1 = none), compared the way Python compares it with 2..=8.
    fn orientation(&self) -> Exif {
        let d = self.data;
        let be = self.big_endian;
        let signed = |b: &[u8]| {
            let bits = 8 * b.len() as u32;
            ((uint(b, be) << (64 - bits)) as i64) >> (64 - bits)
        };
        let value: Option<f64> = match self.typ {
            3 | 4 | 13 | 16 => Some(uint(&d[..unit_size(self.typ) as usize], be) as f64),
            6 | 8 | 9 => Some(signed(&d[..unit_size(self.typ) as usize]) as f64),
            5 => rational(uint(&d[..4], be) as f64, uint(&d[4..8], be) as f64),
            10 => rational(signed(&d[..4]) as f64, signed(&d[4..8]) as f64),
            11 => Some(f64::from(f32::from_bits(uint(&d[..4], be) as u32))),
            12 => Some(f64::from_bits(uint(&d[..8], be))),
            _ => None, // BYTE, ASCII, UNDEFINED: bytes or text, never equal to an int
        };
        let code = value.filter(|v| (2.0..=8.0).contains(v) && v.fract() == 0.0).map_or(1, |v| v as u8);
        Exif::Orientation(code)
    }
}

/// An IFDRational's value; a zero denominator is NaN in Pillow.
fn rational(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den)
}

/// The entry Pillow keeps for `tag` in the IFD at `offset`, following its load() loop.
fn read<'a>(d: &'a [u8], h: &Header, offset: u64, tag: u16) -> Option<Entry<'a>> {
    let be = h.big_endian;
    let (count_len, entry_len, inline) = if h.bigtiff { (8, 20, 8) } else { (2, 12, 4) };
    let at = |pos: u64, len: u64| d.get(usize::try_from(pos).ok()?..usize::try_from(pos.checked_add(len)?).ok()?);
    let n = uint(at(offset, count_len)?, be);
    let limit = d.len() as u64;
    // Tags already stored (a later entry with the same tag is skipped before anything else).
    let mut stored = vec![0u64; 1024];
    let mut total_size = 0u64;
    let mut pos = offset + count_len;
    for _ in 0..n {
        let Some(e) = at(pos, entry_len) else { break }; // cut short: keep what was read
        pos += entry_len;
        let t = uint(&e[..2], be) as u16;
        let typ = uint(&e[2..4], be) as u16;
        let count = if h.bigtiff { uint(&e[4..12], be) } else { uint(&e[4..8], be) };
        let field = &e[entry_len as usize - inline as usize..];
        if stored[usize::from(t / 64)] & (1 << (t % 64)) != 0 || unit_size(typ) == 0 {
            continue;
        }
        let Some(size) = count.checked_mul(unit_size(typ)) else { continue };
        let data = if size > inline {
            total_size = total_size.saturating_add(size);
            if total_size > limit {
                continue;
            }
            match at(uint(field, be), size) {
                Some(v) => v,
                None => continue, // past the end: "Possibly corrupt EXIF data", skipped
            }
        } else {
            &field[..size as usize]
        };
        if data.is_empty() {
            continue;
        }
        stored[usize::from(t / 64)] |= 1 << (t % 64);
        if t == tag {
            return Some(Entry { typ, data, big_endian: be });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A big-endian EXIF block with one IFD of (tag, type, count, inline value bytes) entries.
    fn block(entries: &[(u16, u16, u32, &[u8])]) -> Vec<u8> {
        let mut b = b"Exif\0\0MM\0*\0\0\0\x08".to_vec();
        b.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for &(tag, typ, count, value) in entries {
            b.extend_from_slice(&tag.to_be_bytes());
            b.extend_from_slice(&typ.to_be_bytes());
            b.extend_from_slice(&count.to_be_bytes());
            let mut v = value.to_vec();
            v.resize(4, 0);
            b.extend_from_slice(&v);
        }
        b.extend_from_slice(&[0; 4]);
        b
    }

    #[test]
    fn values_compare_like_python() {
        // Checked against Pillow 13.0.0: Image.Exif().load(block).get(274) and exif_transpose's table.
        let cases: [(u16, u32, &[u8], u8); 9] = [
            (3, 1, &[0, 6], 6),       // SHORT 6
            (4, 1, &[0, 0, 0, 6], 6), // LONG 6
            (1, 1, &[6], 1),          // BYTE: b'\x06', not an int
            (2, 2, b"6\0", 1),        // ASCII '6'
            (8, 1, &[0xFF, 0xFE], 1), // SSHORT -2
            (3, 2, &[0, 3, 0, 6], 3), // count 2: the first value
            (3, 1, &[0, 9], 1),       // 9: no transform
            (3, 0, &[0, 6], 1),       // count 0: skipped, so no Orientation at all (XMP may decide)
            (99, 1, &[0, 6], 1),      // unknown type: skipped
        ];
        for (typ, count, value, want) in cases {
            let got = orientation(&block(&[(274, typ, count, value)]));
            let want = if count == 0 || typ == 99 { Exif::NoOrientation } else { Exif::Orientation(want) };
            assert_eq!(got, want, "type {typ} count {count} value {value:?}");
        }
        // The first stored entry wins; one that was skipped does not block a later one.
        assert_eq!(orientation(&block(&[(274, 3, 1, &[0, 3]), (274, 3, 1, &[0, 6])])), Exif::Orientation(3));
        assert_eq!(orientation(&block(&[(274, 99, 1, &[0, 3]), (274, 3, 1, &[0, 6])])), Exif::Orientation(6));
    }

    #[test]
    fn headers_and_damage() {
        let b = block(&[(274, 3, 1, &[0, 8])]);
        assert_eq!(orientation(&b[6..]), Exif::Orientation(8)); // no prefix
        assert_eq!(orientation(&[b"Exif\0\0", &b[..]].concat()), Exif::Orientation(8)); // two prefixes
        assert_eq!(orientation(b"Exif\0\0garbage!"), Exif::Invalid);
        assert_eq!(orientation(b"Exif\0\0"), Exif::NoOrientation);
        assert_eq!(orientation(&b[..16]), Exif::NoOrientation); // directory cut inside its first entry
        let mut far = b.clone();
        far[13] = 0xF0; // first IFD offset past the end
        assert_eq!(orientation(&far), Exif::NoOrientation);
        // Little-endian, RATIONAL 12/2 (out of line, 8 bytes at offset 26).
        let mut le = b"II*\0\x08\0\0\0\x01\0\x12\x01\x05\0\x01\0\0\0\x1a\0\0\0\0\0\0\0".to_vec();
        le.extend_from_slice(&[12, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(orientation(&le), Exif::Orientation(6));
        for cut in 0..le.len() {
            let _ = orientation(&le[..cut]);
        }
    }
}
