//! How closely a converted (f16/q8/q4) model follows the f32 one: embedding cosine per tower and zero-shot top-1
//! agreement. Used by `webclip convert` (a quick check after writing a bundle) and `webclip fidelity` (the report
//! in the README).

use serde::Serialize;

use crate::image::Pixels;
#[cfg(not(target_arch = "wasm32"))]
use crate::{backend::Backend, error::Result, Session};

/// Short, varied prompts: the text-tower probe when no label list is given.
pub const PROBE_TEXTS: [&str; 12] = [
    "a photo of a cat.",
    "a photo of a dog.",
    "a red sports car parked on a street",
    "two people hiking up a snowy mountain at sunrise",
    "a bowl of ramen with an egg",
    "an astronaut floating in space",
    "a diagram of a transformer neural network",
    "a black and white photo of an old building",
    "a close-up of a yellow flower",
    "a cup of coffee on a wooden table",
    "the moon in the night sky",
    "a blurry photo of a bird.",
];

/// Cosine similarity between paired embeddings of one tower.
#[derive(Clone, Debug, Serialize)]
pub struct TowerFidelity {
    pub inputs: usize,
    pub mean_cosine: f64,
    pub min_cosine: f64,
}

impl TowerFidelity {
    /// Pairs `reference[i]` with `candidate[i]`.
    pub fn measure(reference: &[Vec<f32>], candidate: &[Vec<f32>]) -> Self {
        let cos: Vec<f64> = reference.iter().zip(candidate).map(|(a, b)| crate::tensor::cosine(a, b) as f64).collect();
        let n = cos.len().max(1) as f64;
        TowerFidelity {
            inputs: cos.len(),
            mean_cosine: cos.iter().sum::<f64>() / n,
            min_cosine: cos.iter().copied().fold(f64::INFINITY, f64::min),
        }
    }
}

/// Zero-shot top-1 agreement: for each image, does the candidate pick the reference's best label? With the
/// fragility of that question: the reference's cosine gap between its first and second label (a random-weight
/// model scores 1000 labels within ~1e-3 of each other, so tiny perturbations flip its top-1), and how often the
/// candidate's top-1 is at least in the reference's top 5.
#[derive(Clone, Debug, Serialize)]
pub struct Agreement {
    pub images: usize,
    pub labels: usize,
    pub agree: usize,
    pub fraction: f64,
    /// candidate top-1 ∈ reference top-5, as a fraction of the images
    pub in_reference_top5: f64,
    /// median over images of the reference's cosine(top-1) − cosine(top-2)
    pub reference_margin_median: f64,
}

impl Agreement {
    /// `images` and `labels` are each model's own embeddings of the same inputs.
    pub fn measure(reference: (&[Vec<f32>], &[Vec<f32>]), candidate: (&[Vec<f32>], &[Vec<f32>])) -> Self {
        // label indices by descending cosine (ties: the first label first) and the scores
        let ranking = |image: &Vec<f32>, labels: &[Vec<f32>]| {
            let scores: Vec<f32> = labels.iter().map(|t| crate::tensor::cosine(image, t)).collect();
            let mut order: Vec<usize> = (0..scores.len()).collect();
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
            (order, scores)
        };
        let (mut agree, mut top5, mut margins) = (0, 0, Vec::new());
        for (r, c) in reference.0.iter().zip(candidate.0) {
            let (want, scores) = ranking(r, reference.1);
            let (got, _) = ranking(c, candidate.1);
            agree += (want.first() == got.first()) as usize;
            top5 += got.first().is_some_and(|g| want.iter().take(5).any(|w| w == g)) as usize;
            if want.len() >= 2 {
                margins.push((scores[want[0]] - scores[want[1]]) as f64);
            }
        }
        margins.sort_by(f64::total_cmp);
        let images = reference.0.len();
        let n = images.max(1) as f64;
        Agreement {
            images,
            labels: reference.1.len(),
            agree,
            fraction: agree as f64 / n,
            in_reference_top5: top5 as f64 / n,
            reference_margin_median: margins.get(margins.len() / 2).copied().unwrap_or(0.0),
        }
    }
}

/// Embeddings of the same inputs by one model (`None`: the model lacks that tower).
pub struct Embeddings {
    pub texts: Option<Vec<Vec<f32>>>,
    pub images: Option<Vec<Vec<f32>>>,
}

impl Embeddings {
    /// Embeds `texts` and `images` with whichever towers `session` has.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn of<B: Backend>(session: &Session<B>, texts: &[&str], images: &[Pixels]) -> Result<Self> {
        let texts = match &session.model.text {
            Some(_) if !texts.is_empty() => Some(session.embed_texts(texts)?),
            _ => None,
        };
        let images = match &session.model.vision {
            Some(_) if !images.is_empty() => Some(session.embed_images(images)?),
            _ => None,
        };
        Ok(Embeddings { texts, images })
    }
}

/// Deterministic stand-in photos for when no image files are given: smooth colour fields with a few soft blobs
/// and fine texture, already preprocessed (`size`×`size`, CLIP-normalised), seeded by `index`.
pub fn probe_images(count: usize, size: usize, mean: [f32; 3], std: [f32; 3]) -> Vec<Pixels> {
    (0..count)
        .map(|index| {
            let mut data = vec![0f32; 3 * size * size];
            let seed = index as f32 * 1.618;
            for c in 0..3 {
                for y in 0..size {
                    for x in 0..size {
                        let (u, v) = (x as f32 / size as f32, y as f32 / size as f32);
                        let field = 0.5 + 0.35 * ((u * 3.1 + seed + c as f32).sin() * (v * 2.3 - seed).cos());
                        let blob = (0..3)
                            .map(|k| {
                                let (cx, cy) =
                                    (((seed + k as f32) * 0.37).fract(), ((seed * 1.7 + k as f32) * 0.61).fract());
                                (-((u - cx).powi(2) + (v - cy).powi(2)) * 40.0).exp()
                                    * if (k + c) % 2 == 0 { 0.4 } else { -0.3 }
                            })
                            .sum::<f32>();
                        let texture = 0.05 * ((x * 7 + y * 13 + index * 31 + c * 17) % 23) as f32 / 23.0;
                        let value = (field + blob + texture).clamp(0.0, 1.0);
                        data[(c * size + y) * size + x] = (value - mean[c]) / std[c];
                    }
                }
            }
            Pixels { height: size, width: size, data }
        })
        .collect()
}
