// layer_norm: y[r, :] = (x[r, :] − mean_r) / √(var_r + eps) · weight + bias      (torch nn.LayerNorm, biased var)
//
// Bindings (group 0):
//   0  p       uniform         Params { rows, dim, eps }
//   1  x       storage, read   (rows, dim) row-major
//   2  weight  storage, read   (dim)
//   3  bias    storage, read   (dim)
//   4  y       storage, rw     (rows, dim)
// Dispatch: one workgroup per row, rows spread over (min(rows, 65535), ceil(rows / 65535), 1); workgroup 256.
//
// Two passes over the row (mean, then the centred sum of squares — no E[x²] − E[x]² cancellation), each a strided
// per-invocation sum followed by a tree reduction in workgroup memory. Rows are ≤ a few thousand floats: the row is
// read three times from global memory (cache-resident) instead of being staged.

struct Params {
    rows: u32,
    dim: u32,
    eps: f32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 256>;

// Sum of `partial` over the workgroup; every invocation gets the total. Call from uniform control flow.
fn workgroup_sum(t: u32, v: f32) -> f32 {
    partial[t] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) { partial[t] += partial[t + s]; }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier(); // everyone has read partial[0] before it is reused
    return total;
}

@compute @workgroup_size(256, 1, 1)
fn layer_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) t: u32) {
    let row = wg.y * nwg.x + wg.x;
    if (row >= p.rows) { return; } // uniform: the same for the whole workgroup
    let base = row * p.dim;
    var s = 0.0;
    for (var i = t; i < p.dim; i += WG) { s += x[base + i]; }
    let mean = workgroup_sum(t, s) / f32(p.dim);
    var q = 0.0;
    for (var i = t; i < p.dim; i += WG) {
        let d = x[base + i] - mean;
        q += d * d;
    }
    let inv = inverseSqrt(workgroup_sum(t, q) / f32(p.dim) + p.eps);
    for (var i = t; i < p.dim; i += WG) {
        y[base + i] = (x[base + i] - mean) * inv * weight[i] + bias[i];
    }
}
