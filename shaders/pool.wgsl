// gather_rows: y[b, 0, :] = x[b, rows[b], :]      (pooling: the class token of each image, the end-of-text token
//                                                   of each text)
//
// Bindings (group 0):
//   0  p     uniform         Params { batch, seq, dim }
//   1  x     storage, read   (batch, seq, dim)
//   2  rows  storage, read   (batch) u32, each < seq (checked on the host)
//   3  y     storage, rw     (batch, 1, dim)
// Dispatch: ceil(batch · dim / 256) workgroups over (min(·, 65535), ceil(· / 65535), 1); workgroup 256.

struct Params {
    batch: u32,
    seq: u32,
    dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn gather_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) t: u32) {
    let e = (wg.y * nwg.x + wg.x) * 256u + t;
    if (e >= p.batch * p.dim) { return; }
    let b = e / p.dim;
    let d = e % p.dim;
    y[e] = x[(b * p.seq + rows[b]) * p.dim + d];
}
