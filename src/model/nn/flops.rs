//! Floating-point operations of one forward pass, from the config alone: 2·M·N·K for every matmul (a
//! multiply-add is two operations), attention's q·kᵀ and p·v as full `S × S` products (the causal text tower
//! skips about half of them; counted as a GPU kernel of the plain formula would do them). Layer norms, softmax,
//! activations and adds are O(S·D) and left out.

/// One pre-norm encoder layer over `s` tokens of width `d`, MLP width `i`.
pub fn layer(s: f64, d: f64, i: f64) -> f64 {
    let projections = 4.0 * 2.0 * s * d * d; // q, k, v, out
    let mlp = 2.0 * 2.0 * s * d * i; // fc1, fc2
    let attention = 2.0 * 2.0 * s * s * d; // q·kᵀ and p·v over all heads
    projections + mlp + attention
}
