// gather_rows: y[r, 0, :] = x[rows[r], :]   rows indexed over all batch·seq rows of x (row s of sequence b is
//              b·seq + s)                 (pooling: the class token of each image, the end-of-text token of each text)
//
// Bindings (group 0):
//   0  p     uniform         Params { n, dim }
//   1  x     storage, read   (batch, seq, dim)
//   2  rows  storage, read   (n) u32, each < batch · seq (checked on the host)
//   3  y     storage, rw     (n, 1, dim)
// Dispatch: ceil(n · dim / 256) workgroups over (min(·, 65535), ceil(· / 65535), 1); workgroup 256.

struct Params {
    n: u32,
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
    if (e >= p.n * p.dim) { return; }
    let r = e / p.dim;
    let d = e % p.dim;
    y[e] = x[rows[r] * p.dim + d];
}
