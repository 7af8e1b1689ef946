// attention: out[b, i, h, :] = Σ_{j ∈ K(i)} softmax_j(q[b, i, h, :] · k[b, j, h, :] · scale) · v[b, j, h, :]
//            i over q_len queries; K(i) by p.mask: 0 every one of kv_len keys; 1 (causal) j ≤ i; 2 (tree) i and its
//            ancestors parents[i], parents[parents[i]], … down to −1 (texts sharing a prefix share its rows);
//            masks 1 and 2 need q_len = kv_len, and a tree has parents[i] < i (checked on the host);
//            scale = 1 / √head_dim              (CLIPAttention, SiglipAttention, nn.MultiheadAttention; no dropout)
//
// Bindings (group 0):
//   0  p    uniform         Params { q_len, kv_len, dim, heads, head_dim, mask, scale }
//   1  q    storage, read   (batch, q_len, heads · head_dim) row-major, head h at columns [h·head_dim, (h+1)·head_dim)
//   2  k    storage, read   (batch, kv_len, heads · head_dim)
//   3  v    storage, read   (batch, kv_len, heads · head_dim)
//   4  out  storage, rw     (batch, q_len, heads · head_dim)
//   5  parents storage, read (q_len) i32, the same tree for every sequence (mask 2; any buffer otherwise)
// Dispatch: (q_len, heads, batch), one workgroup of 64 per (query i, head h, sequence b).
//
// Keys are taken 64 at a time with an online softmax (running max m and sum l, the partial output rescaled by
// exp(m_old − m_new)), so any sequence length works with fixed workgroup memory. Invocation t scores key c0 + t, and
// accumulates output features t, t + 64, t + 128, t + 192: head_dim ≤ 256 (CLIP uses 64, SigLIP So400m 72; any
// size works, a power of two is not needed). A tree's keys are not contiguous: every invocation walks the same
// 64 steps of the chain per chunk (the walk reads only uniform values, so no barrier is needed) and keeps its own
// key; kidx publishes the chunk's keys for the p·v loop. The keys come newest first (the CPU sums oldest first).

struct Params {
    q_len: u32,
    kv_len: u32,
    dim: u32,
    heads: u32,
    head_dim: u32,
    mask: u32,
    scale: f32,
}

const WG: u32 = 64u;
const MAX_HEAD_DIM: u32 = 256u;
const MASK_CAUSAL: u32 = 1u;
const MASK_TREE: u32 = 2u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> parents: array<i32>;

var<workgroup> qs: array<f32, 256>;     // the query head, MAX_HEAD_DIM
var<workgroup> probs: array<f32, 64>;   // this chunk's exp(score − m_new)
var<workgroup> red: array<f32, 64>;     // reduction scratch
var<workgroup> kidx: array<u32, 64>;    // this chunk's keys

fn reduce(t: u32, v: f32, is_max: bool) -> f32 {
    red[t] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            if (is_max) { red[t] = max(red[t], red[t + s]); } else { red[t] += red[t + s]; }
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(64, 1, 1)
fn attention(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let i = wg.x;
    let h = wg.y;
    let q_base = wg.z * p.q_len;     // first query of this sequence
    let kv_base = wg.z * p.kv_len;   // first key of this sequence
    let col = h * p.head_dim;
    for (var d = t; d < p.head_dim; d += WG) { qs[d] = q[(q_base + i) * p.dim + col + d]; }
    workgroupBarrier();

    var keys = p.kv_len;
    if (p.mask == MASK_CAUSAL) { keys = i + 1u; }
    if (p.mask == MASK_TREE) {
        keys = 0u;                      // the chain's length (bounded by i + 1 even if parents were malformed)
        for (var a = i32(i); a >= 0 && keys <= i; a = parents[a]) { keys += 1u; }
    }
    var cursor = i32(i);                // tree: the next key of the chain
    var m = 0.0;                        // running max (valid once the first chunk is in)
    var l = 0.0;                        // running Σ exp(score − m)
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var c0 = 0u; c0 < keys; c0 += WG) {
        var j = c0 + t;
        if (p.mask == MASK_TREE) {
            var a = cursor;
            for (var u = 0u; u < WG; u++) {
                if (u == t) { j = u32(max(a, 0)); }
                if (a >= 0) { a = parents[a]; }
            }
            cursor = a;
        }
        let live = c0 + t < keys;
        kidx[t] = j;                    // published by reduce's barriers below
        var s = -3.0e38;
        if (live) {
            let kr = (kv_base + j) * p.dim + col;
            var dot = 0.0;
            for (var d = 0u; d < p.head_dim; d++) { dot = fma(qs[d], k[kr + d], dot); }
            s = dot * p.scale;
        }
        let chunk_max = reduce(t, s, true);
        var m_new = chunk_max;
        var rescale = 0.0;              // first chunk: nothing accumulated yet
        if (c0 > 0u) {
            m_new = max(m, chunk_max);
            rescale = exp(m - m_new);
        }
        var e = 0.0;
        if (live) { e = exp(s - m_new); }
        probs[t] = e;
        l = l * rescale + reduce(t, e, false); // reduce's barriers also publish probs
        m = m_new;
        let n = min(WG, keys - c0);
        for (var u = 0u; u < 4u; u++) {
            let d = t + u * WG;
            if (d < p.head_dim) {
                var a = acc[u] * rescale;
                for (var jj = 0u; jj < n; jj++) { a = fma(probs[jj], v[(kv_base + kidx[jj]) * p.dim + col + d], a); }
                acc[u] = a;
            }
        }
        workgroupBarrier();             // probs and kidx are rewritten by the next chunk
    }
    for (var u = 0u; u < 4u; u++) {
        let d = t + u * WG;
        if (d < p.head_dim) { out[(q_base + i) * p.dim + col + d] = acc[u] / l; }
    }
}
