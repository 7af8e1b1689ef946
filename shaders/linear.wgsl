// linear: y = act(x · Wᵀ + b) + residual        (torch nn.Linear; W in Hugging Face's (out, in) layout, read as is)
//
// Bindings (group 0):
//   0  p         uniform         Params { m, k, n, flags, wpr, bpr }   flags: bit 0 bias, bit 1 residual,
//                                                                      bits 8.. act kind
//   1  x         storage, read   (m, k) row-major                      activations, f32
//   2  w         storage, read   (n, wpr) u32                          weight, packed (src/quant/packed.rs)
//   3  b         storage, read   (n)                                   bias (a dummy when flags bit 0 is clear)
//   4  residual  storage, read   (m, n)                                added after the activation (dummy unless bit 1)
//   5  y         storage, rw     (m, n)
//   6  scales    storage, read   (n·bpr) f16, as u32 pairs             q8/q4 block scales (a dummy for f32/f16)
// Entry points, one per weight kind: linear_f32, linear_f16, linear_q8, linear_q4 (the packed layout: packed.wgsl).
// Dispatch: (ceil(n / 64), ceil(m / 64), 1); workgroup 16 × 16 = 256 invocations.
//
// Each workgroup computes a 64 × 64 tile of y; each invocation a 4 × 4 register block: rows ty + 16·i, columns
// tx + 16·j (strided, so neighbouring invocations write neighbouring columns). x and W are both k-contiguous, so a
// 64 × 16 slab of each is staged in workgroup memory per step; the row stride 17 keeps the slab reads free of bank
// conflicts. The W slab is dequantized while it is staged — one packed word per invocation for q8 (64 rows × 4
// words), one for half the invocations for q4 (64 × 2), two for f16 (64 × 8) — so the inner loop is the same f32
// FMA loop for every kind, accumulating in f32. Out-of-range rows, columns and k are loaded as zero and never
// written: any m, n, k works.
// activation.wgsl and packed.wgsl are prepended at load time.

struct Params { m: u32, k: u32, n: u32, flags: u32, wpr: u32, bpr: u32 } // wpr: u32 words, bpr: 32-blocks per row

const TILE: u32 = 64u;
const TK: u32 = 16u;
const STRIDE: u32 = 17u; // TK + 1

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> scales: array<u32>;

var<workgroup> xs: array<f32, 1088>; // TILE · STRIDE: rows of x, k along a row
var<workgroup> ws: array<f32, 1088>; // TILE · STRIDE: rows of W (= output columns)

/// The scale of the 32-block holding weight (o, kk).
fn block_scale(o: u32, kk: u32) -> f32 {
    let s = o * p.bpr + kk / 32u;
    return half_at(scales[s / 2u], s);
}

/// Stages W[col0 .. col0 + 64, k0 .. k0 + 16] into ws, dequantized; zero outside (n, k).
fn stage_w(kind: u32, t: u32, col0: u32, k0: u32) {
    if (kind == KIND_F32) {
        for (var i = 0u; i < 4u; i++) {
            let e = t + 256u * i;
            let r = e / TK;
            let kk = e % TK;
            var v = 0.0;
            if (k0 + kk < p.k && col0 + r < p.n) { v = bitcast<f32>(w[(col0 + r) * p.wpr + k0 + kk]); }
            ws[r * STRIDE + kk] = v;
        }
    } else if (kind == KIND_F16) {
        for (var i = 0u; i < 2u; i++) {
            let e = t + 256u * i;
            let r = e / 8u;
            let kk = 2u * (e % 8u);
            var word = 0u;
            if (k0 + kk < p.k && col0 + r < p.n) { word = w[(col0 + r) * p.wpr + (k0 + kk) / 2u]; }
            ws[r * STRIDE + kk] = half_at(word, 0u);
            ws[r * STRIDE + kk + 1u] = half_at(word, 1u);
        }
    } else { // q8: 64 rows × 4 words, one per invocation; q4: 64 rows × 2 words, invocations 0..127
        let per_row = select(2u, 4u, kind == KIND_Q8);
        let per_word = 16u / per_row; // values in a word: 4 (q8) or 8 (q4)
        let r = t / per_row;
        let kk = per_word * (t % per_row);
        if (r < TILE) {
            var word = 0u;
            var d = 0.0; // out of range: zeros
            if (k0 + kk < p.k && col0 + r < p.n) {
                word = w[(col0 + r) * p.wpr + (k0 + kk) / per_word];
                d = block_scale(col0 + r, k0 + kk);
            }
            for (var j = 0u; j < per_word; j++) {
                ws[r * STRIDE + kk + j] = select(q4_at(word, j), q8_at(word, j), kind == KIND_Q8) * d;
            }
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn linear_f32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(local_invocation_index) t: u32) { linear(KIND_F32, wg, lid, t); }
@compute @workgroup_size(16, 16, 1)
fn linear_f16(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(local_invocation_index) t: u32) { linear(KIND_F16, wg, lid, t); }
@compute @workgroup_size(16, 16, 1)
fn linear_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
             @builtin(local_invocation_index) t: u32) { linear(KIND_Q8, wg, lid, t); }
@compute @workgroup_size(16, 16, 1)
fn linear_q4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
             @builtin(local_invocation_index) t: u32) { linear(KIND_Q4, wg, lid, t); }

fn linear(kind: u32, wg: vec3<u32>, lid: vec3<u32>, t: u32) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        // 256 invocations stage 64 × 16 values of x, 4 each; consecutive invocations read consecutive k
        for (var i = 0u; i < 4u; i++) {
            let e = t + 256u * i;
            let r = e / TK;
            let kk = e % TK;
            var xv = 0.0;
            if (k0 + kk < p.k && row0 + r < p.m) { xv = x[(row0 + r) * p.k + k0 + kk]; }
            xs[r * STRIDE + kk] = xv;
        }
        stage_w(kind, t, col0, k0);
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
