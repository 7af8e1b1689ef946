// packed: decoding one value of a packed weight matrix (src/quant/packed.rs, PackedMatrix) — functions only,
// prepended to linear.wgsl and embed.wgsl at load time; the kernels read the u32 words and f16 scale pairs.
//
// Weight W[o, k] of a row with wpr u32 words and bpr 32-weight blocks (rows padded to whole words; q8/q4 to
// whole blocks; the padding decodes to 0); scale s = o·bpr + k/32 is half s % 2 of scale word s / 2:
//   f32  bitcast<f32>(w[o·wpr + k])
//   f16  half k % 2 of w[o·wpr + k/2]                        (unpack2x16float, low half first)
//   q8   i8 in byte k % 4 of w[o·wpr + k/4]        × scale   (two's complement, lowest byte first)
//   q4   (nibble k % 8 of w[o·wpr + k/8]) − 8      × scale   (unsigned, lowest nibble first)
// No binding, Dispatch or workgroup of its own: the including kernel has them.

const KIND_F32: u32 = 0u;
const KIND_F16: u32 = 1u;
const KIND_Q8: u32 = 2u;
const KIND_Q4: u32 = 3u;

/// Half `i % 2` of a word holding two f16 (the f16 weights, and the scales).
fn half_at(word: u32, i: u32) -> f32 {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, (i & 1u) == 1u);
}

/// The signed byte `j` (0..3) of a q8 word, unscaled.
fn q8_at(word: u32, j: u32) -> f32 {
    return f32(extractBits(bitcast<i32>(word), 8u * j, 8u));
}

/// Nibble `j` (0..7) of a q4 word minus 8, unscaled.
fn q4_at(word: u32, j: u32) -> f32 {
    return f32(extractBits(word, 4u * j, 4u)) - 8.0;
}
