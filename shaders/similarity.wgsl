// similarity: what CLIPModel does after the towers — unit-length embeddings, scaled cosine logits, softmax over the
// labels (logits_per_image.softmax(-1)). Small work, but it keeps a classification on the device: only the
// probabilities are read back.
//
// normalize:  y[r, :] = x[r, :] / max(‖x[r, :]‖₂, 1e-12)                  (x / x.norm(p=2, dim=-1, keepdim=True))
//   0 np uniform RowParams { rows, cols }   1 x (rows, cols)   3 y rw (rows, cols)
//   Dispatch: (rows, 1, 1) over the grid; workgroup 64: a tree sum of squares in workgroup memory, then a division.
//
// logits:     y[i, j] = scale · a[i, :] · b[j, :] + bias     (CLIP: logit_scale.exp() · image · textᵀ, bias 0;
//                                                             SigLIP: + logit_bias)
//   0 lp uniform LogitParams { n_a, n_b, dim, scale (f32 bits), bias (f32 bits) }   1 a (n_a, dim)   2 b (n_b, dim)   3 y rw (n_a, n_b)
//   Dispatch: ceil(n_a · n_b / 256) workgroups over the grid; one invocation per logit (dim ≤ a few thousand).
//
// softmax:    y[r, :] = exp(x[r, :] − max) / Σ exp(x[r, :] − max)
//   0 np uniform RowParams { rows, cols }   1 x (rows, cols)   3 y rw (rows, cols)
//   Dispatch: (rows, 1, 1) over the grid; workgroup 64: tree max, tree sum, then the division.
//
// sigmoid:    y[r, c] = 1 / (1 + exp(−x[r, c]))                           (SigLIP's per-label probabilities)
//   0 np uniform RowParams { rows, cols }   1 x (rows, cols)   3 y rw (rows, cols)
//   Dispatch: (rows, 1, 1) over the grid; workgroup 64 strides over the row.
//
// Grids: workgroup (x, y) of a (min(·, 65535), ceil(· / 65535), 1) dispatch is flattened to one index.

struct RowParams { rows: u32, cols: u32 }
struct LogitParams { n_a: u32, n_b: u32, dim: u32, scale: u32, bias: u32 }

@group(0) @binding(0) var<uniform> np: RowParams;
@group(0) @binding(0) var<uniform> lp: LogitParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 64>;

/// Tree reduction of `partial` (64 values) by sum (op 0) or max (op 1); every invocation gets the result.
fn reduce(t: u32, op: u32) -> f32 {
    for (var s = 32u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if (t < s) {
            if (op == 0u) {
                partial[t] += partial[t + s];
            } else {
                partial[t] = max(partial[t], partial[t + s]);
            }
        }
    }
    workgroupBarrier();
    let r = partial[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(64, 1, 1)
fn normalize(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) t: u32) {
    let r = wg.y * nwg.x + wg.x; // uniform across the workgroup
    if (r >= np.rows) { return; }
    var s = 0.0;
    for (var c = t; c < np.cols; c += 64u) {
        let v = x[r * np.cols + c];
        s = fma(v, v, s);
    }
    partial[t] = s;
    let inv = 1.0 / max(sqrt(reduce(t, 0u)), 1e-12);
    for (var c = t; c < np.cols; c += 64u) {
        y[r * np.cols + c] = x[r * np.cols + c] * inv;
    }
}

@compute @workgroup_size(256, 1, 1)
fn logits(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) t: u32) {
    let e = (wg.y * nwg.x + wg.x) * 256u + t;
    if (e >= lp.n_a * lp.n_b) { return; }
    let i = e / lp.n_b;
    let j = e % lp.n_b;
    var s = 0.0;
    for (var d = 0u; d < lp.dim; d++) {
        s = fma(a[i * lp.dim + d], b[j * lp.dim + d], s);
    }
    y[e] = fma(bitcast<f32>(lp.scale), s, bitcast<f32>(lp.bias));
}

@compute @workgroup_size(64, 1, 1)
fn softmax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) t: u32) {
    let r = wg.y * nwg.x + wg.x; // uniform across the workgroup
    if (r >= np.rows) { return; }
    var m = -3.0e38;
    for (var c = t; c < np.cols; c += 64u) { m = max(m, x[r * np.cols + c]); }
    partial[t] = m;
    let row_max = reduce(t, 1u);
    var s = 0.0;
    for (var c = t; c < np.cols; c += 64u) { s += exp(x[r * np.cols + c] - row_max); }
    partial[t] = s;
    let inv = 1.0 / reduce(t, 0u);
    for (var c = t; c < np.cols; c += 64u) {
        y[r * np.cols + c] = exp(x[r * np.cols + c] - row_max) * inv;
    }
}

@compute @workgroup_size(64, 1, 1)
fn sigmoid(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) t: u32) {
    let r = wg.y * nwg.x + wg.x;
    if (r >= np.rows) { return; }
    for (var c = t; c < np.cols; c += 64u) {
        // exp(−x) overflows to +inf for x < −88: 1 / inf = 0, the right limit
        y[r * np.cols + c] = 1.0 / (1.0 + exp(-x[r * np.cols + c]));
    }
}
