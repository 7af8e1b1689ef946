// Embeddings and patchify: the first op of each tower, one invocation per output element (n of them).
// Dispatch: ceil(n / 256) workgroups of 256, spread over (min(·, 65535), ceil(· / 65535), 1).
//
// embed_tokens_{f32,f16,q8,q4}:   y[t, d] = position[position_ids[t], d] + token[ids[t], d]   (CLIPTextEmbeddings)
//   0 p uniform TokenParams { n, dim, row0, rows, first, wpr, bpr }   1 ids (batch·seq) u32
//   2 table (rows, wpr) u32: token rows [row0, row0 + rows), packed (packed.wgsl, prepended at load time; one entry
//     point per kind; a gathered value is dequantized on the fly) — a table over the storage-binding limit is split in chunks,
//     one dispatch each; the first (first = 1) writes position + its tokens, later ones add their tokens to y
//   3 position (context, dim) f32   4 y rw (batch·seq, dim)   5 table_scales (rows·bpr) f16 pairs (q8/q4; else dummy)
//   6 position_ids (batch·seq) u32, each < context (checked on the host, which writes HF's default 0 … seq − 1)
//
// patchify:       y[b, gy·gw + gx, (c·P + ky)·P + kx] = pixels[b, c, gy·P + ky, gx·P + kx]
//   0 p uniform PatchParams { n, channels, height, width, patch_size }   1 pixels (batch, C, H, W)   4 y rw (batch, G, C·P·P)
//   The patch is flattened in (c, ky, kx) order: Conv2d(C, D, P, stride P) becomes a linear layer on (D, C·P·P).
//
// add_positions, with a prefix row (prefix = 1; CLIPVisionEmbeddings' class token):
//                  y[b, 0, :] = prefix + position[0];  y[b, s, :] = x[b, s − 1, :] + position[s]
//                without (prefix = 0; SiglipVisionEmbeddings):  y[b, s, :] = x[b, s, :] + position[s]
//   0 p uniform PositionParams { n, seq_out, dim, prefix }   1 x (batch, seq_out − prefix, dim)
//   2 prefix row (dim; any buffer when prefix = 0)   3 position (seq_out, dim)   4 y rw (batch, seq_out, dim)

struct TokenParams { n: u32, dim: u32, row0: u32, rows: u32, first: u32, wpr: u32, bpr: u32 }
struct PatchParams { n: u32, channels: u32, height: u32, width: u32, patch_size: u32 }
struct PositionParams { n: u32, seq_out: u32, dim: u32, prefix: u32 }

@group(0) @binding(0) var<uniform> tp: TokenParams;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read> position: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> table_scales: array<u32>;
@group(0) @binding(6) var<storage, read> position_ids: array<u32>;

fn index(wg: vec3<u32>, nwg: vec3<u32>, t: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + t;
}

/// Value d of row r (relative to the chunk) of the packed token table.
fn table_value(kind: u32, r: u32, d: u32) -> f32 {
    if (kind == KIND_F32) {
        return bitcast<f32>(table[r * tp.wpr + d]);
    }
    if (kind == KIND_F16) {
        return half_at(table[r * tp.wpr + d / 2u], d);
    }
    let s = r * tp.bpr + d / 32u;
    let scale = half_at(table_scales[s / 2u], s);
    if (kind == KIND_Q8) {
        return q8_at(table[r * tp.wpr + d / 4u], d % 4u) * scale;
    }
    return q4_at(table[r * tp.wpr + d / 8u], d % 8u) * scale;
}

fn embed_tokens(kind: u32, e: u32) {
    if (e >= tp.n) { return; }
    let token = e / tp.dim;
    let d = e % tp.dim;
    let id = ids[token];
    var v = 0.0;
    if (tp.first != 0u) { v = position[position_ids[token] * tp.dim + d]; } else { v = y[e]; }
    if (id >= tp.row0 && id - tp.row0 < tp.rows) { v += table_value(kind, id - tp.row0, d); }
    y[e] = v;
}

@compute @workgroup_size(256, 1, 1)
fn embed_tokens_f32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) t: u32) {
    embed_tokens(KIND_F32, index(wg, nwg, t));
}

@compute @workgroup_size(256, 1, 1)
fn embed_tokens_f16(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) t: u32) {
    embed_tokens(KIND_F16, index(wg, nwg, t));
}

@compute @workgroup_size(256, 1, 1)
fn embed_tokens_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) t: u32) {
    embed_tokens(KIND_Q8, index(wg, nwg, t));
}

@compute @workgroup_size(256, 1, 1)
fn embed_tokens_q4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) t: u32) {
    embed_tokens(KIND_Q4, index(wg, nwg, t));
}

@group(0) @binding(0) var<uniform> pp: PatchParams;
@group(0) @binding(1) var<storage, read> pixels: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn patchify(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
    let e = index(wg, nwg, t);
    if (e >= pp.n) { return; }
    let pl = pp.channels * pp.patch_size * pp.patch_size;       // patch length
    let gw = pp.width / pp.patch_size;
    let patches = (pp.height / pp.patch_size) * gw;        // per image
    let f = e % pl;
    let g = (e / pl) % patches;
    let b = e / (pl * patches);
    let c = f / (pp.patch_size * pp.patch_size);
    let ky = (f / pp.patch_size) % pp.patch_size;
    let kx = f % pp.patch_size;
    let py = (g / gw) * pp.patch_size + ky;
    let px = (g % gw) * pp.patch_size + kx;
    y[e] = pixels[((b * pp.channels + c) * pp.height + py) * pp.width + px];
}

@group(0) @binding(0) var<uniform> cp: PositionParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> prefix_row: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn add_positions(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) t: u32) {
    let e = index(wg, nwg, t);
    if (e >= cp.n) { return; }
    let d = e % cp.dim;
    let s = (e / cp.dim) % cp.seq_out;
    let b = e / (cp.dim * cp.seq_out);
    var v = 0.0;
    if (s < cp.prefix) {
        v = prefix_row[d];
    } else {
        v = x[(b * (cp.seq_out - cp.prefix) + s - cp.prefix) * cp.dim + d];
    }
    y[e] = v + position[s * cp.dim + d];
}
