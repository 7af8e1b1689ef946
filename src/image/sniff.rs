//! Formats webclip does not decode but can name, so the error says what the file is and how to convert it,
//! instead of "not an image file". The image crate's own format guess covers the rest.

/// ISO-BMFF brands (the `ftyp` box) of HEIF images: HEVC-coded (HEIC, what iPhones save) and the generic
/// image/sequence brands (mif1, msf1) that HEIC files list too.
const HEIC_BRANDS: [&[u8; 4]; 10] =
    [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"];
/// AV1-coded HEIF.
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];
/// MP4 / QuickTime / 3GP video.
const VIDEO_BRANDS: [&[u8; 4]; 9] = [b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"qt  ", b"M4V ", b"3gp4", b"3gp5"];

/// Why these bytes cannot be decoded, when they are a known format webclip does not read.
pub fn unsupported(bytes: &[u8], supported: &str) -> Option<String> {
    let format = ftyp(bytes).or_else(|| other(bytes))?;
    let how = match format {
        "HEIC" => {
            "convert it to JPEG or PNG (on an iPhone: Settings > Camera > Formats > Most Compatible; on a Mac: \
             Preview > File > Export; elsewhere: `heif-convert photo.heic photo.jpg` or `magick photo.heic \
             photo.jpg`)"
        }
        "AVIF" => {
            "convert it to JPEG or PNG (e.g. `magick photo.avif photo.png`, or open it in a browser and save it as PNG)"
        }
        "JPEG XL" => "convert it to JPEG or PNG (e.g. `djxl photo.jxl photo.png`)",
        "MP4/MOV video" => "take a still frame as PNG or JPEG (e.g. `ffmpeg -i clip.mp4 -frames:v 1 frame.png`)",
        "SVG" | "PDF" => "render it to PNG first (e.g. `magick -density 150 file.svg file.png`)",
        _ => "convert it to PNG or JPEG",
    };
    Some(format!("{format} is not supported by webclip; {how}. {supported}."))
}

/// HEIC, AVIF or MP4 video from the `ftyp` box: size (4), "ftyp", major brand (4), minor version (4),
/// compatible brands (4 each) up to the box size.
fn ftyp(b: &[u8]) -> Option<&'static str> {
    if b.get(4..8)? != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let end = size.clamp(16, 4096).min(b.len());
    let mut brands = vec![b.get(8..12)?];
    brands.extend(b.get(16..end).unwrap_or(&[]).chunks_exact(4));
    let any = |set: &[&[u8; 4]]| brands.iter().any(|br| set.iter().any(|s| &s[..] == *br));
    if any(&AVIF_BRANDS) {
        Some("AVIF")
    } else if any(&HEIC_BRANDS) {
        Some("HEIC")
    } else if any(&VIDEO_BRANDS) {
        Some("MP4/MOV video")
    } else {
        None
    }
}

/// A few other formats people drop in by mistake.
fn other(b: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(&b[..b.len().min(256)]).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if b.starts_with(&[0xFF, 0x0A]) || b.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
        Some("JPEG XL")
    } else if b.starts_with(b"%PDF") {
        Some("PDF")
    } else if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")) {
        Some("SVG")
    } else if b.starts_with(b"8BPS") {
        Some("Photoshop (PSD)")
    } else if b.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") || b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        Some("JPEG 2000")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn box_with(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let mut b = ((16 + 4 * compatible.len()) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0; 4]);
        for c in compatible {
            b.extend_from_slice(&c[..]);
        }
        b.extend_from_slice(b"\0\0\0\x08meta");
        b
    }

    #[test]
    fn brands() {
        let s = "webclip reads X";
        assert!(unsupported(&box_with(b"heic", &[b"mif1", b"heic"]), s).unwrap().starts_with("HEIC is not"));
        assert!(unsupported(&box_with(b"mif1", &[b"heic"]), s).unwrap().starts_with("HEIC"));
        assert!(unsupported(&box_with(b"avif", &[b"mif1", b"miaf"]), s).unwrap().starts_with("AVIF"));
        assert!(unsupported(&box_with(b"mif1", &[b"avif", b"mif1"]), s).unwrap().starts_with("AVIF"));
        assert!(unsupported(&box_with(b"isom", &[b"mp41"]), s).unwrap().starts_with("MP4/MOV video"));
        assert!(unsupported(b"<?xml version=\"1.0\"?>\n<svg xmlns=", s).unwrap().starts_with("SVG"));
        assert_eq!(unsupported(b"\x89PNG\r\n\x1a\n", s), None);
        assert_eq!(unsupported(b"\0\0\0\x10ftyp", s), None);
        let heic = box_with(b"heic", &[b"mif1"]);
        for cut in 0..=heic.len() {
            let _ = unsupported(&heic[..cut], s);
        }
    }
}
