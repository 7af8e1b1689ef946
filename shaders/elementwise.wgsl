// Elementwise ops on flat f32 arrays of n elements, one invocation per element.
// Dispatch: ceil(n / 256) workgroups of 256, spread over (min(·, 65535), ceil(· / 65535), 1).
//
// add:         y[e] = a[e] + b[e]              (residual connections)
//   0 p uniform Params { n, act }   1 a (n)   2 b (n)   3 y rw (n)
// activation:  y[e] = activate(a[e], act)      (kinds in activation.wgsl, prepended at load time)
//   0 p uniform Params { n, act }   1 a (n)   3 y rw (n)

struct Params {
    n: u32,
    act: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn index(wg: vec3<u32>, nwg: vec3<u32>, t: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + t;
}

@compute @workgroup_size(256, 1, 1)
fn add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) t: u32) {
    let e = index(wg, nwg, t);
    if (e < p.n) { y[e] = a[e] + b[e]; }
}

@compute @workgroup_size(256, 1, 1)
fn activation(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) t: u32) {
    let e = index(wg, nwg, t);
    if (e < p.n) { y[e] = activate(a[e], p.act); }
}
