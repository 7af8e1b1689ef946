//! The PNG chunks behind `Image.getexif()`: eXIf, and the tEXt / zTXt / iTXt text chunks that PngImagePlugin
//! stores in `Image.info` ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp"). Chunks are read up to
//! IEND, after IDAT too (Pillow's `load` reads them before `exif_transpose` looks); for an animated PNG, up to
//! the second frame's fcTL. CRCs are not checked here: the pixel decoder refuses a file with a bad one.

use super::exif::{self, Exif};

/// Pillow's ImageFile.SAFEBLOCK: PngImagePlugin's MAX_TEXT_CHUNK for one decompressed text chunk.
const MAX_TEXT_CHUNK: usize = 1 << 20;

/// The `Image.info` values getexif reads, as bytes (last chunk wins, like dict assignment).
#[derive(Default)]
struct Info {
    exif: Option<Vec<u8>>,
    raw_profile: Option<Vec<u8>>,
    /// info["XML:com.adobe.xmp"]: text from tEXt, zTXt or a valid UTF-8 iTXt.
    xmp_text: Option<Vec<u8>>,
    /// info["xmp"]: the raw packet of an iTXt "XML:com.adobe.xmp", even when it is not UTF-8.
    xmp_raw: Option<Vec<u8>>,
}

/// (EXIF orientation, XMP packet) of a PNG file, with getexif's precedence: eXIf, else the raw profile.
pub fn metadata(d: &[u8]) -> (Exif, Option<Vec<u8>>) {
    let mut info = Info::default();
    let (mut animated, mut seen_idat) = (false, false);
    let mut i = 8;
    while let Some(head) = d.get(i..i + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        // ChunkStream.read: a type that is not \w\w\w\w ends the walk (SyntaxError), as does IEND.
        if !kind.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') || kind == b"IEND" {
            break;
        }
        let Some(data) = d.get(i + 8..(i + 8).saturating_add(len)) else { break };
        i += 12 + len;
        match kind {
            // chunk_acTL: more than one frame makes the image animated (only before IDAT).
            b"acTL" if !seen_idat => {
                let n = data.get(..4).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                animated = (2..=0x8000_0000).contains(&n);
            }
            b"IDAT" => seen_idat = true,
            b"fcTL" if animated && seen_idat => break,
            b"eXIf" => info.exif = Some([b"Exif\0\0", data].concat()),
            b"tEXt" => {
                let (key, value) = split_nul(data).unwrap_or((data, &[]));
                // chunk_tEXt keeps a value keyed "exif" as bytes: it is an EXIF block for getexif.
                if key == b"exif" {
                    info.exif = Some(value.to_vec());
                } else {
                    store(&mut info, key, value.to_vec());
                }
            }
            b"zTXt" => {
                let (key, rest) = split_nul(data).unwrap_or((data, &[]));
                if rest.first().is_some_and(|&method| method != 0) {
                    continue; // Pillow refuses the file ("Unknown compression method")
                }
                let value = match inflate(rest.get(1..).unwrap_or(&[])) {
                    Inflated::Data(v) => v,
                    Inflated::Corrupt => Vec::new(), // zlib.error: the key is kept, empty
                    Inflated::TooLarge => continue,
                };
                store(&mut info, key, value);
            }
            b"iTXt" => itxt(&mut info, data),
            _ => {}
        }
    }
    let exif = match (&info.exif, &info.raw_profile) {
        (Some(e), _) => exif::orientation(e),
        (None, Some(r)) => raw_profile(r).map_or(Exif::Invalid, |e| exif::orientation(&e)),
        (None, None) => Exif::NoOrientation,
    };
    // getexif: info["XML:com.adobe.xmp"] if not empty, else info["xmp"].
    let xmp = info.xmp_text.filter(|x| !x.is_empty()).or(info.xmp_raw).filter(|x| !x.is_empty());
    (exif, xmp)
}

/// `s.split(b"\0", 1)`; None when there is no NUL.
fn split_nul(d: &[u8]) -> Option<(&[u8], &[u8])> {
    let p = d.iter().position(|&b| b == 0)?;
    Some((&d[..p], &d[p + 1..]))
}

/// A text value under the keys getexif reads.
fn store(info: &mut Info, key: &[u8], value: Vec<u8>) {
    match key {
        b"Raw profile type exif" => info.raw_profile = Some(value),
        b"XML:com.adobe.xmp" => info.xmp_text = Some(value),
        _ => {}
    }
}

/// chunk_iTXt: keyword NUL, compression flag and method, language NUL, translated keyword NUL, text.
fn itxt(info: &mut Info, d: &[u8]) {
    let Some((key, r)) = split_nul(d) else { return };
    let [flag, method, r @ ..] = r else { return };
    let Some((lang, r)) = split_nul(r) else { return };
    let Some((translated, v)) = split_nul(r) else { return };
    let value = match (flag, method) {
        (0, _) => v.to_vec(),
        (_, 0) => match inflate(v) {
            Inflated::Data(x) => x,
            _ => return,
        },
        _ => return,
    };
    if key == b"XML:com.adobe.xmp" {
        info.xmp_raw = Some(value.clone());
    }
    // The text entry is only made when language, translated keyword and text are valid UTF-8.
    let utf8 = |b: &[u8]| std::str::from_utf8(b).is_ok();
    if utf8(lang) && utf8(translated) && utf8(&value) {
        store(info, key, value);
    }
}

enum Inflated {
    Data(Vec<u8>),
    /// zlib.error.
    Corrupt,
    /// More than MAX_TEXT_CHUNK: Pillow raises ("Decompressed data too large"); the chunk is ignored here.
    TooLarge,
}

/// `zlib.decompressobj().decompress(data, MAX_TEXT_CHUNK)`: a stream cut short gives what it has.
fn inflate(data: &[u8]) -> Inflated {
    let mut z = flate2::Decompress::new(true);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 15];
    loop {
        let (consumed, produced) = (z.total_in() as usize, z.total_out());
        let input = data.get(consumed..).unwrap_or(&[]);
        let Ok(status) = z.decompress(input, &mut buf, flate2::FlushDecompress::None) else {
            return Inflated::Corrupt;
        };
        let n = (z.total_out() - produced) as usize;
        out.extend_from_slice(&buf[..n]);
        if out.len() > MAX_TEXT_CHUNK {
            return Inflated::TooLarge;
        }
        if status == flate2::Status::StreamEnd || (n == 0 && z.total_in() as usize == consumed) {
            return Inflated::Data(out);
        }
    }
}

/// ImageMagick's "Raw profile type exif": `bytes.fromhex("".join(text.split("\n")[3:]))`, None where
/// Python raises (fromhex skips whitespace between bytes only).
fn raw_profile(text: &[u8]) -> Option<Vec<u8>> {
    let hex: Vec<u8> = text.split(|&b| b == b'\n').skip(3).flatten().copied().collect();
    let mut out = Vec::with_capacity(hex.len() / 2);
    let val = |c: u8| (c as char).to_digit(16).map(|v| v as u8);
    let mut i = 0;
    while i < hex.len() {
        if hex[i].is_ascii_whitespace() || hex[i] == 0x0B {
            i += 1;
            continue;
        }
        let (hi, lo) = (val(hex[i])?, val(*hex.get(i + 1)?)?);
        out.push(hi << 4 | lo);
        i += 2;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_profile_hex() {
        assert_eq!(raw_profile(b"\nexif\n       4\n4578\n6966\n"), Some(b"Exif".to_vec()));
        assert_eq!(raw_profile(b"\nexif\n 2\n45 78"), Some(b"Ex".to_vec()));
        assert_eq!(raw_profile(b"\nexif\n 2\n4g"), None);
        assert_eq!(raw_profile(b"\nexif\n 2\n457"), None);
        assert_eq!(raw_profile(b"\nexif\n 2\n4 5"), None);
        assert_eq!(raw_profile(b"short"), Some(Vec::new()));
    }

    #[test]
    fn inflate_is_bounded() {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, &vec![b'a'; MAX_TEXT_CHUNK + 10]).unwrap();
        let big = e.finish().unwrap();
        assert!(matches!(inflate(&big), Inflated::TooLarge));
        assert!(matches!(inflate(b"not zlib"), Inflated::Corrupt));
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, b"hello, hello, hello").unwrap();
        let small = e.finish().unwrap();
        assert!(matches!(inflate(&small), Inflated::Data(v) if v == b"hello, hello, hello"));
        for cut in 0..small.len() {
            let _ = inflate(&small[..cut]);
        }
    }
}
