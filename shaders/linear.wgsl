// linear: y = act(x · Wᵀ + b) + residual        (torch nn.Linear; W in Hugging Face's (out, in) layout, read as is)
//
// Bindings (group 0):
//   0  p         uniform         Params { m, k, n, flags }      flags: bit 0 bias, bit 1 residual, bits 8.. act kind
//   1  x         storage, read   (m, k) row-major               activations
//   2  w         storage, read   (n, k) row-major               weight, f32
//   3  b         storage, read   (n)                            bias (a 4-byte dummy when flags bit 0 is clear)
//   4  residual  storage, read   (m, n)                         added after the activation (dummy when bit 1 clear)
//   5  y         storage, rw     (m, n)
// Dispatch: (ceil(n / 64), ceil(m / 64), 1); workgroup 16 × 16 = 256 invocations.
//
// Each workgroup computes a 64 × 64 tile of y; each invocation a 4 × 4 register block: rows ty + 16·i, columns
// tx + 16·j (strided, so neighbouring invocations write neighbouring columns). x and W are both k-contiguous, so a
// 64 × 16 slab of each is staged in workgroup memory per step; the row stride 17 keeps the slab reads free of bank
// conflicts. Out-of-range rows, columns and k are loaded as zero and never written: any m, n, k works.
// The activation functions come from activation.wgsl, prepended at load time.

struct Params {
    m: u32,
    k: u32,
    n: u32,
    flags: u32,
}

const TILE: u32 = 64u;
const TK: u32 = 16u;
const STRIDE: u32 = 17u; // TK + 1

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

var<workgroup> xs: array<f32, 1088>; // TILE · STRIDE: rows of x, k along a row
var<workgroup> ws: array<f32, 1088>; // TILE · STRIDE: rows of W (= output columns)

@compute @workgroup_size(16, 16, 1)
fn linear_f32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(local_invocation_index) t: u32) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        // 256 invocations stage 64 × 16 values of each operand, 4 each; consecutive invocations read consecutive k
        for (var i = 0u; i < 4u; i++) {
            let e = t + 256u * i;
            let r = e / TK;
            let kk = e % TK;
            let kg = k0 + kk;
            var xv = 0.0;
            var wv = 0.0;
            if (kg < p.k) {
                if (row0 + r < p.m) { xv = x[(row0 + r) * p.k + kg]; }
                if (col0 + r < p.n) { wv = w[(col0 + r) * p.k + kg]; }
            }
            xs[r * STRIDE + kk] = xv;
            ws[r * STRIDE + kk] = wv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var a: array<f32, 4>;
            var c: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = xs[(lid.y + 16u * i) * STRIDE + kk];
                c[i] = ws[(lid.x + 16u * i) * STRIDE + kk];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = fma(a[i], c[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }
    let has_bias = (p.flags & 1u) != 0u;
    let has_residual = (p.flags & 2u) != 0u;
    let act = p.flags >> 8u;
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y + 16u * i;
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + lid.x + 16u * j;
            if (r < p.m && c < p.n) {
                var v = acc[i][j];
                if (has_bias) { v += b[c]; }
                v = activate(v, act);
                if (has_residual) { v += residual[r * p.n + c]; }
                y[r * p.n + c] = v;
            }
        }
    }
}
