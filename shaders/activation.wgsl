// Activations shared by elementwise.wgsl (standalone op) and linear.wgsl (fused epilogue). This file has no entry
// point: the backend prepends it to those two files (and the naga test validates exactly that text).
//
//   kind 0  identity
//   kind 1  quick_gelu  x · σ(1.702 x)                       (OpenAI CLIP)
//   kind 2  gelu        0.5 x (1 + erf(x / √2))              (HF "gelu", exact)
//   kind 3  gelu_tanh   0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))
//
// WGSL has no erf: Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7, below f32 rounding of the products around it.

const ACT_IDENTITY: u32 = 0u;
const ACT_QUICK_GELU: u32 = 1u;
const ACT_GELU: u32 = 2u;
const ACT_GELU_TANH: u32 = 3u;

fn erf_approx(x: f32) -> f32 {
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return sign(x) * (1.0 - poly * exp(-a * a));
}

fn activate(x: f32, kind: u32) -> f32 {
    switch kind {
        case ACT_QUICK_GELU: {
            // exp overflows to +inf for x < -52: x / inf = -0, the right limit
            return x / (1.0 + exp(-1.702 * x));
        }
        case ACT_GELU: {
            return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
        }
        case ACT_GELU_TANH: {
            // tanh saturates long before ±10; clamping keeps backends whose tanh uses exp from producing NaN
            let u = clamp(0.79788456080286536 * (x + 0.044715 * x * x * x), -10.0, 10.0);
            return 0.5 * x * (1.0 + tanh(u));
        }
        default: {
            return x;
        }
    }
}
