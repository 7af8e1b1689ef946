//! GIFs without a colour table. Pillow opens a GIF whose first frame has neither a global nor a local colour
//! table as grayscale (mode L: the colour index is the gray level); the gif crate refuses it. Giving the file
//! a global table of the 256 grays makes the two agree.

/// The file with a 256-gray global colour table, when its first frame has no colour table at all.
pub fn with_gray_palette(b: &[u8]) -> Option<Vec<u8>> {
    let flags = *b.get(10)?;
    if flags & 0x80 != 0 {
        return None;
    }
    // Walk the blocks to the first image descriptor, as GifImagePlugin._seek does.
    let mut i = 13;
    loop {
        match *b.get(i)? {
            b'!' => {
                // Extension: label, then data sub-blocks up to a zero-length one.
                i += 2;
                loop {
                    let n = usize::from(*b.get(i)?);
                    i += 1 + n;
                    if n == 0 {
                        break;
                    }
                }
            }
            b',' => {
                // Image descriptor: x, y, width, height (2 bytes each), then flags (bit 7: local table).
                if b.get(i + 9)? & 0x80 != 0 {
                    return None;
                }
                break;
            }
            b';' => return None, // trailer before any image
            _ => i += 1,         // Pillow skips other bytes
        }
    }
    let mut out = Vec::with_capacity(b.len() + 768);
    out.extend_from_slice(&b[..13]);
    out[10] = flags | 0x87; // a global table of 2^(7 + 1) = 256 entries
    for v in 0..=255u8 {
        out.extend_from_slice(&[v, v, v]);
    }
    out.extend_from_slice(&b[13..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_palette_less_first_frames_change() {
        // Screen 1x1 without a global table; a graphic control extension; an image without a local table.
        let gif = b"GIF89a\x01\0\x01\0\0\0\0!\xf9\x04\0\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;";
        let fixed = with_gray_palette(gif).expect("no colour table: patched");
        assert_eq!((fixed.len(), fixed[10]), (gif.len() + 768, 0x87));
        assert_eq!(&fixed[13 + 3 * 200..13 + 3 * 201], &[200, 200, 200]);
        // A local table, a global table, or no image at all: unchanged.
        let mut local = gif.to_vec();
        local[30] = 0x80;
        assert_eq!(with_gray_palette(&local), None);
        assert_eq!(with_gray_palette(&fixed), None);
        assert_eq!(with_gray_palette(b"GIF89a\x01\0\x01\0\0\0\0;"), None);
        for cut in 0..gif.len() {
            let _ = with_gray_palette(&gif[..cut]);
        }
    }
}
