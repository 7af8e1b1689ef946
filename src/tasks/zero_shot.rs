//! Zero-shot classification: softmax over `exp(logit_scale) · cos(image, text_i)`, as
//! `CLIPModel(...).logits_per_image.softmax(-1)`.

use crate::tensor::{cosine, softmax};

/// Probability of each label text for one image. `scale` is `exp(logit_scale)`.
pub fn probabilities(image: &[f32], texts: &[Vec<f32>], scale: f32) -> Vec<f32> {
    let logits: Vec<f32> = texts.iter().map(|t| scale * cosine(image, t)).collect();
    softmax(&logits)
}

/// `(label, score)` sorted by descending score (ties keep label order).
pub fn ranked<'a>(labels: &'a [String], scores: &[f32]) -> Vec<(&'a str, f32)> {
    let mut r: Vec<(&str, f32)> = labels.iter().map(String::as_str).zip(scores.iter().copied()).collect();
    r.sort_by(|a, b| b.1.total_cmp(&a.1));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_respects_scale() {
        let img = [1.0, 0.0];
        let texts = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let flat = probabilities(&img, &texts, 1.0);
        let sharp = probabilities(&img, &texts, 100.0);
        assert!((flat.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((flat[0] - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);
        assert!(sharp[0] > 0.999_999);
    }

    #[test]
    fn ranked_sorts_descending() {
        let labels = vec!["a".to_string(), "b".into(), "c".into()];
        let r = ranked(&labels, &[0.2, 0.5, 0.3]);
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), ["b", "c", "a"]);
    }
}
