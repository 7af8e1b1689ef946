//! Entropy-coded data: the bit reader (byte stuffing, markers, libjpeg's zero fill) and Huffman decoding
//! with libjpeg's behaviour on codes that are not in the table (jdhuff.c).

use super::Unsupported;

/// Bits looked up at once; longer codes take the canonical-code walk.
const LOOKAHEAD: u32 = 9;

/// A decoding table built like jdhuff.c's jpeg_make_d_derived_tbl.
pub struct HuffTable {
    /// Indexed by the next LOOKAHEAD bits: (code length << 8) | symbol, or 0 when the code is longer.
    lookup: Vec<u16>,
    /// Largest code of each length (-1 if none); index 17 is a sentinel that ends every walk.
    maxcode: [i32; 18],
    /// Symbol index of the first code of each length, minus that code.
    valoffset: [i32; 17],
    values: [u8; 256],
}

impl HuffTable {
    /// `counts[l - 1]` codes of length l, then the symbols in code order.
    pub fn new(counts: &[u8; 16], symbols: &[u8]) -> Result<HuffTable, Unsupported> {
        let mut values = [0u8; 256];
        values[..symbols.len()].copy_from_slice(symbols);
        let mut lookup = vec![0u16; 1 << LOOKAHEAD];
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 17];
        let (mut code, mut p) = (0i32, 0usize);
        for len in 1..=16usize {
            let n = usize::from(counts[len - 1]);
            if n > 0 {
                valoffset[len] = p as i32 - code;
                for _ in 0..n {
                    // Checked per code too, before it indexes the lookup table.
                    if code >= 1 << len {
                        return Err(Unsupported("a Huffman table has too many codes"));
                    }
                    if len as u32 <= LOOKAHEAD {
                        let shift = LOOKAHEAD - len as u32;
                        let first = (code as usize) << shift;
                        let entry = (len as u16) << 8 | u16::from(values[p]);
                        lookup[first..first + (1 << shift)].fill(entry);
                    }
                    code += 1;
                    p += 1;
                }
                maxcode[len] = code - 1;
            }
            // jdhuff.c: "code is now 1 more than the last code used for codelength si; but it must still fit
            // in si bits, since no code is allowed to be all ones."
            if code >= 1 << len {
                return Err(Unsupported("a Huffman table has too many codes"));
            }
            code <<= 1;
        }
        maxcode[17] = 0xFFFFF;
        Ok(HuffTable { lookup, maxcode, valoffset, values })
    }

    /// Decode one symbol. A code that is not in the table consumes 17 bits and yields 0, as in libjpeg.
    pub fn decode(&self, bits: &mut BitReader) -> u8 {
        bits.fill();
        let entry = self.lookup[bits.peek(LOOKAHEAD) as usize];
        if entry != 0 {
            bits.consume(u32::from(entry >> 8));
            return entry as u8;
        }
        let window = bits.peek(17) as i32;
        let mut len = LOOKAHEAD as usize + 1;
        while len <= 17 {
            let code = window >> (17 - len);
            if code <= self.maxcode[len] {
                break;
            }
            len += 1;
        }
        bits.consume(len.min(17) as u32);
        if len > 16 {
            return 0;
        }
        let code = window >> (17 - len);
        self.values[((code + self.valoffset[len]) & 0xFF) as usize]
    }
}

/// Reads the entropy-coded bytes of one scan, MSB first.
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to read.
    pub pos: usize,
    /// Valid bits, left-aligned.
    acc: u64,
    nbits: u32,
    /// How many of the valid bits (at the low end) are zero fill from past the end of the data.
    fill_bits: u32,
    /// Offset of the 0xFF that starts the marker where the data ended, once reached.
    pub marker: Option<usize>,
    /// A bit past the end of the data was consumed (libjpeg's insufficient_data: the rest of the restart
    /// interval is left as it is).
    pub insufficient: bool,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader { data, pos, acc: 0, nbits: 0, fill_bits: 0, marker: None, insufficient: false }
    }

    /// The next data byte: FF 00 is a stuffed FF, extra FF fill bytes are skipped, and after a marker (or the
    /// end of the file) libjpeg supplies zero bits.
    fn next_byte(&mut self) -> u8 {
        if self.marker.is_some() {
            return 0;
        }
        let Some(&b) = self.data.get(self.pos) else {
            self.marker = Some(self.data.len());
            return 0;
        };
        if b != 0xFF {
            self.pos += 1;
            return b;
        }
        let mut q = self.pos + 1;
        while self.data.get(q) == Some(&0xFF) {
            q += 1;
        }
        match self.data.get(q) {
            Some(0) => {
                self.pos = q + 1;
                0xFF
            }
            _ => {
                self.pos = q - 1;
                self.marker = Some(q - 1);
                0
            }
        }
    }

    /// Top up to at least 57 valid bits.
    #[inline]
    pub fn fill(&mut self) {
        while self.nbits <= 56 {
            self.acc |= u64::from(self.next_byte()) << (56 - self.nbits);
            self.nbits += 8;
            if self.marker.is_some() {
                self.fill_bits += 8;
            }
        }
    }

    #[inline]
    fn peek(&self, n: u32) -> u32 {
        (self.acc >> (64 - n)) as u32
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.nbits -= n;
        if self.nbits < self.fill_bits {
            self.insufficient = true;
            self.fill_bits = self.nbits;
        }
    }

    /// `n` (0..=16) raw bits.
    #[inline]
    pub fn bits(&mut self, n: u32) -> i32 {
        if n == 0 {
            return 0;
        }
        if self.nbits < n {
            self.fill();
        }
        let v = self.peek(n);
        self.consume(n);
        v as i32
    }

    /// `n` bits read as a JPEG magnitude category value (HUFF_EXTEND).
    #[inline]
    pub fn extend(&mut self, n: u32) -> i32 {
        let v = self.bits(n);
        if n > 0 && v < 1 << (n - 1) {
            v + (-1 << n) + 1
        } else {
            v
        }
    }

    /// At a restart interval: drop the buffered bits and step over the expected RSTn marker. Bytes before
    /// it that are not a marker are skipped, as libjpeg's next_marker does; any other marker is an error.
    pub fn restart(&mut self, expected: u8) -> Result<(), Unsupported> {
        self.acc = 0;
        self.nbits = 0;
        self.fill_bits = 0;
        self.insufficient = false;
        let mut q = self.marker.take().unwrap_or(self.pos);
        loop {
            while self.data.get(q).is_some_and(|&b| b != 0xFF) {
                q += 1;
            }
            while self.data.get(q + 1) == Some(&0xFF) {
                q += 1;
            }
            match self.data.get(q + 1) {
                Some(0) => q += 2,
                Some(&m) if m == 0xD0 + expected => {
                    self.pos = q + 2;
                    return Ok(());
                }
                _ => return Err(Unsupported("a restart marker is missing or out of order")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_markers_and_codes() {
        // Codes: 'a' = 0, 'b' = 10, 'c' = 110 (counts 1, 1, 1).
        let mut counts = [0u8; 16];
        counts[..3].copy_from_slice(&[1, 1, 1]);
        let t = HuffTable::new(&counts, b"abc").unwrap();
        // 0 10 110 11 | 1111 1111 (stuffed FF) | then a marker: zeros follow.
        let data = [0b0101_1011, 0xFF, 0x00, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        assert_eq!([t.decode(&mut r), t.decode(&mut r), t.decode(&mut r)], [b'a', b'b', b'c']);
        assert_eq!(r.bits(2), 0b11);
        assert_eq!(r.bits(8), 0xFF);
        assert_eq!(r.bits(8), 0);
        assert_eq!(r.marker, Some(3));
        // 0b111... is not a code: 17 bits are consumed and 0 comes back.
        let mut r = BitReader::new(&[0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00], 0);
        assert_eq!(t.decode(&mut r), 0);
        assert_eq!(r.bits(7), 0x7F);
    }

    #[test]
    fn extend_signs() {
        let mut r = BitReader::new(&[0b0001_1000, 0b0000_0000], 0);
        assert_eq!(r.extend(3), -7); // 000 → -7
        assert_eq!(r.extend(2), 3); // 11 → 3
        assert_eq!(r.extend(1), -1); // 0 → -1
    }
}
