//! The `u32` words of a [`PackedMatrix`](super::PackedMatrix): owned, or borrowed from the bytes of a file kept in
//! memory (a webclip bundle, whose tensors are stored little-endian at 4-byte offsets), so that loading a bundle
//! does not copy every weight a second time.

use std::ops::{Deref, Range};
use std::sync::Arc;

/// `u32` words; dereferences to `&[u32]`.
#[derive(Clone)]
pub struct Words(Repr);

#[derive(Clone)]
enum Repr {
    Owned(Vec<u32>),
    /// `len` words at byte `start` of `bytes`; `bytes[start..]` is 4-byte aligned in memory (checked by
    /// [`Words::shared`]; a `Vec` behind an `Arc` never moves or changes)
    Shared {
        bytes: Arc<Vec<u8>>,
        start: usize,
        len: usize,
    },
}

impl Words {
    /// The little-endian words in `bytes[range]`: borrowed (the `Arc` shared, nothing copied) when the range starts
    /// 4-byte aligned in memory on a little-endian host — a bundle's tensors do (8-aligned data section, 4-aligned
    /// offsets, allocator-aligned buffer) — and copied otherwise. `None` when the range is outside `bytes` or not
    /// whole words.
    pub fn shared(bytes: &Arc<Vec<u8>>, range: Range<usize>) -> Option<Words> {
        let raw = bytes.get(range.clone())?;
        if raw.len() % 4 != 0 {
            return None;
        }
        let aligned = bytemuck::try_cast_slice::<u8, u32>(raw).is_ok();
        if cfg!(target_endian = "little") && aligned {
            return Some(Words(Repr::Shared { bytes: bytes.clone(), start: range.start, len: raw.len() / 4 }));
        }
        Some(Words(Repr::Owned(raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())))
    }

    /// Whether the words are borrowed from shared bytes (not a copy of their own).
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Shared { .. })
    }
}

impl Deref for Words {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        match &self.0 {
            Repr::Owned(words) => words,
            // aligned and whole words, as checked when built: the cast cannot fail
            Repr::Shared { bytes, start, len } => bytemuck::cast_slice(&bytes[*start..*start + 4 * *len]),
        }
    }
}

impl From<Vec<u32>> for Words {
    fn from(words: Vec<u32>) -> Self {
        Words(Repr::Owned(words))
    }
}

impl PartialEq for Words {
    fn eq(&self, other: &Words) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<u32>> for Words {
    fn eq(&self, other: &Vec<u32>) -> bool {
        **self == other[..]
    }
}

impl std::fmt::Debug for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
