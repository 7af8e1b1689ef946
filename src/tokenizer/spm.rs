//! SentencePiece model files (`spiece.model`, SigLIP's T5 vocabulary) read into a `tokenizers` Unigram pipeline.
//!
//! The file is a protobuf `ModelProto` (sentencepiece_model.proto); only what encoding needs is read:
//! ```text
//! ModelProto      1: repeated SentencePiece pieces   3: NormalizerSpec normalizer_spec
//! SentencePiece   1: string piece   2: float score   3: enum type (1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte)
//! NormalizerSpec  1: string name    2: bytes precompiled_charsmap   3: bool add_dummy_prefix
//!                 4: bool remove_extra_whitespaces   5: bool escape_whitespaces
//! ```
//! A hand-written reader (wire types 0, 1, 2, 5) rather than a protobuf code generator: six fields of one message.

use crate::error::{Error, Result};

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub piece: String,
    pub score: f32,
    /// 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
    pub kind: u32,
}

/// What encoding needs from a `ModelProto`.
#[derive(Debug, Clone, Default)]
pub struct SentencePieceModel {
    pub pieces: Vec<Piece>,
    /// the normalizer's compiled character map (`nmt_nfkc`: NFKC plus a few NMT rules)
    pub precompiled_charsmap: Vec<u8>,
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
}

impl SentencePieceModel {
    /// Parses a `.model` file; `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<Self> {
        let bad = |detail: &str| {
            Error::Tokenizer(format!(
                "{file}: not a SentencePiece model ({detail}); download the repository's spiece.model again"
            ))
        };
        let mut m = SentencePieceModel { add_dummy_prefix: true, remove_extra_whitespaces: true, ..Default::default() };
        for field in Fields::new(bytes) {
            match field.map_err(&bad)? {
                (1, Value::Bytes(b)) => m.pieces.push(piece(b).map_err(&bad)?),
                (3, Value::Bytes(b)) => {
                    for f in Fields::new(b) {
                        match f.map_err(&bad)? {
                            (2, Value::Bytes(c)) => m.precompiled_charsmap = c.to_vec(),
                            (3, Value::Varint(v)) => m.add_dummy_prefix = v != 0,
                            (4, Value::Varint(v)) => m.remove_extra_whitespaces = v != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if m.pieces.is_empty() {
            return Err(bad("no pieces"));
        }
        Ok(m)
    }

    /// The id of the unknown piece.
    pub fn unk_id(&self) -> Option<usize> {
        self.pieces.iter().position(|p| p.kind == 2)
    }
}

fn piece(bytes: &[u8]) -> std::result::Result<Piece, &'static str> {
    let mut p = Piece { piece: String::new(), score: 0.0, kind: 1 };
    for f in Fields::new(bytes) {
        match f? {
            (1, Value::Bytes(s)) => p.piece = String::from_utf8(s.to_vec()).map_err(|_| "a piece is not UTF-8")?,
            (2, Value::Fixed32(v)) => p.score = f32::from_bits(v),
            (3, Value::Varint(v)) => p.kind = v as u32,
            _ => {}
        }
    }
    Ok(p)
}

enum Value<'a> {
    Varint(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// The fields of one protobuf message, in order.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields { rest: bytes }
    }

    fn varint(&mut self) -> std::result::Result<u64, &'static str> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.rest.split_first().ok_or("truncated")?;
            self.rest = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a varint longer than 10 bytes")
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], &'static str> {
        if n > self.rest.len() {
            return Err("truncated");
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<(u64, Value<'a>), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = (|| {
            let key = self.varint()?;
            let value = match key & 7 {
                0 => Value::Varint(self.varint()?),
                1 => Value::Fixed32(self.take(8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))?),
                2 => {
                    let n = usize::try_from(self.varint()?).map_err(|_| "a length beyond memory")?;
                    Value::Bytes(self.take(n)?)
                }
                5 => Value::Fixed32(self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))?),
                _ => return Err("an unsupported wire type"),
            };
            Ok((key >> 3, value))
        })();
        if field.is_err() {
            self.rest = &[]; // stop after the first error
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_files_are_errors_not_panics() {
        for bytes in [&b""[..], b"\x0a", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x0b", b"\x0a\x05ab"] {
            let err = SentencePieceModel::parse(bytes, "spiece.model").unwrap_err().to_string();
            assert!(err.contains("spiece.model: not a SentencePiece model"), "{err}");
        }
    }

    #[test]
    fn reads_pieces_and_normalizer() {
        // piece "▁a" score -1.5 type 1; piece "<unk>" type 2; normalizer: charsmap "xy", no dummy prefix
        let mut m = vec![0x0a, 0x0b, 0x0a, 0x04];
        m.extend("▁a".as_bytes());
        m.extend([0x15]);
        m.extend((-1.5f32).to_le_bytes());
        m.extend([0x0a, 0x09, 0x0a, 0x05]);
        m.extend(b"<unk>");
        m.extend([0x18, 0x02]);
        m.extend([0x1a, 0x06, 0x12, 0x02, b'x', b'y', 0x18, 0x00]);
        let p = SentencePieceModel::parse(&m, "t").unwrap();
        assert_eq!(p.pieces[0], Piece { piece: "▁a".into(), score: -1.5, kind: 1 });
        assert_eq!(p.unk_id(), Some(1));
        assert_eq!(p.precompiled_charsmap, b"xy");
        assert!(!p.add_dummy_prefix && p.remove_extra_whitespaces);
    }
}
