//! Multi-label tags: each tag is scored on its own, not in a softmax over the whole list, so an image can
//! have many tags or none.
//!
//! A tag's score is CLIP's two-way choice between the tag's prompt and a neutral prompt:
//! ```text
//! score(tag) = softmax([s·cos(v, "a photo of a {tag}."), s·cos(v, "a photo.")])[0]
//!            = sigmoid(s · (cos(v, tag) − cos(v, neutral)))          s = exp(logit_scale) (100 for OpenAI CLIP)
//! ```
//! i.e. exactly what `webclip classify --template "{}" --labels "a photo of a {tag}.,a photo."` gives the tag.
//! SigLIP was trained for exactly this — one sigmoid per image–text pair — so its tags are the model's own
//! probability, `sigmoid(s · cos(v, tag) + logit_bias)`, and the neutral prompt plays no part.
//! 0.5 means "no better than saying nothing": the default threshold. With crops (the local-to-global idea of
//! TagCLIP) the image and a 2x2 grid of overlapping crops are scored and each tag keeps its best view, so an
//! object that fills one corner is found too (5 image passes instead of 1).

use serde::Serialize;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::image::{Pixels, PreprocessConfig, RgbImage};
use crate::model::Scorer;
use crate::tensor::normalize;
use crate::Session;

/// The prompt every tag is compared with.
pub const NEUTRAL_PROMPT: &str = "a photo.";
/// Tags scoring at least this are kept.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// Crops per side of the grid, and each crop's size in percent of the image's side (60: neighbours overlap by a
/// fifth of the image, so an object on a grid line is whole in some crop).
pub const CROP_GRID: u32 = 2;
pub const CROP_PERCENT: u32 = 60;

/// A tag and its score in [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tag {
    pub tag: String,
    pub score: f32,
}

/// Labels with their prompt embeddings: turns image embeddings into tag scores.
pub struct Tagger {
    pub labels: Vec<String>,
    /// normalised prompt embeddings `(L, P)`
    prompts: Vec<Vec<f32>>,
    /// normalised embedding of the neutral prompt `(P,)`
    neutral: Vec<f32>,
    /// the model's scorer: CLIP's softmax (then the two-way choice above), SigLIP's sigmoid
    scorer: Scorer,
}

impl Tagger {
    /// One batched text pass: `template` with `{}` replaced by each label, and `neutral`.
    pub async fn build_async<B: Backend>(
        s: &Session<B>,
        labels: Vec<String>,
        template: &str,
        neutral: &str,
    ) -> Result<Self> {
        if labels.is_empty() {
            return Err(Error::Input("no tags given: pass at least one label".into()));
        }
        let mut texts = crate::tasks::labels::prompts(template, &labels)?;
        texts.push(neutral.to_string());
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut e = s.embed_texts_async(&refs).await?;
        let neutral = e.pop().unwrap_or_default();
        Ok(Self::from_embeddings(labels, &e, &neutral, s.scorer()))
    }

    /// [`Tagger::build_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn build<B: Backend>(s: &Session<B>, labels: Vec<String>, template: &str, neutral: &str) -> Result<Self> {
        pollster::block_on(Self::build_async(s, labels, template, neutral))
    }

    /// From prompt embeddings computed elsewhere (any norm), scored as `scorer` says ([`Session::scorer`]).
    pub fn from_embeddings(labels: Vec<String>, prompts: &[Vec<f32>], neutral: &[f32], scorer: Scorer) -> Self {
        Tagger { labels, prompts: prompts.iter().map(|p| normalize(p)).collect(), neutral: normalize(neutral), scorer }
    }

    /// Score of every label (label order) for one image seen through `views` (its embeddings: the whole
    /// image, then any crops): per label the best view's score.
    pub fn scores(&self, views: &[Vec<f32>]) -> Vec<f32> {
        let mut best = vec![0f32; self.prompts.len()];
        for v in views {
            let v = normalize(v);
            let neutral = dot(&v, &self.neutral);
            for (b, p) in best.iter_mut().zip(&self.prompts) {
                let logit = match self.scorer {
                    Scorer::Softmax { scale } => scale as f64 * (dot(&v, p) - neutral),
                    Scorer::Sigmoid { scale, bias } => scale as f64 * dot(&v, p) + bias as f64,
                };
                *b = b.max(crate::tensor::sigmoid(logit as f32));
            }
        }
        best
    }

    /// Labels scoring ≥ `threshold`, best first (equal scores in label order).
    pub fn tags(&self, scores: &[f32], threshold: f32) -> Vec<Tag> {
        let mut t: Vec<Tag> = self
            .labels
            .iter()
            .zip(scores)
            .filter(|(_, &s)| s >= threshold)
            .map(|(l, &s)| Tag { tag: l.clone(), score: s })
            .collect();
        t.sort_by(|a, b| b.score.total_cmp(&a.score));
        t
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// The whole image, then (with `crops`) the 2x2 grid of overlapping crops, each [`CROP_PERCENT`] % of the
/// image's width and height. Images under 8 pixels a side get no crops.
pub fn views(img: &RgbImage, crops: bool) -> Vec<RgbImage> {
    let mut v = vec![img.clone()];
    let (w, h) = img.dimensions();
    if !crops || w < 8 || h < 8 {
        return v;
    }
    let (cw, ch) = ((w * CROP_PERCENT).div_ceil(100), (h * CROP_PERCENT).div_ceil(100));
    for gy in 0..CROP_GRID {
        for gx in 0..CROP_GRID {
            let x = (w - cw) * gx / (CROP_GRID - 1);
            let y = (h - ch) * gy / (CROP_GRID - 1);
            v.push(::image::imageops::crop_imm(img, x, y, cw, ch).to_image());
        }
    }
    v
}

/// Decodes an image file once and preprocesses each of its [`views`] (1, or 5 with `crops`).
pub fn view_pixels(bytes: &[u8], name: &str, cfg: &PreprocessConfig, crops: bool) -> Result<Vec<Pixels>> {
    let img = crate::image::decode(bytes, name)?;
    let (h, w) = crate::image::output_size(img.height(), img.width(), cfg);
    if u64::from(h) * u64::from(w) > crate::image::MAX_PIXELS {
        // the whole-image path of crate::image::load refuses these; say the same here
        return crate::image::load(bytes, name, cfg).map(|p| vec![p]);
    }
    Ok(views(&img, crops).iter().map(|v| crate::image::preprocess(v, cfg)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siglip_tags_are_the_models_own_sigmoid() {
        let scorer = Scorer::Sigmoid { scale: 10.0, bias: -2.0 };
        let t = Tagger::from_embeddings(
            vec!["a".into(), "b".into()],
            &[vec![1.0, 0.0], vec![0.0, 1.0]],
            &[1.0, 1.0],
            scorer,
        );
        let s = t.scores(&[vec![3.0, 4.0]]); // cosines 0.6 and 0.8; the neutral prompt plays no part
        assert!((s[0] - crate::tensor::sigmoid(10.0 * 0.6 - 2.0)).abs() < 1e-6, "{}", s[0]);
        assert!((s[1] - crate::tensor::sigmoid(10.0 * 0.8 - 2.0)).abs() < 1e-6, "{}", s[1]);
        let direct = scorer.scores(&[0.6, 0.8]); // what classify gives the same pairs
        assert!(s.iter().zip(&direct).all(|(a, b)| (a - b).abs() < 1e-6), "{s:?} vs {direct:?}");
    }

    #[test]
    fn score_is_the_two_way_softmax_against_neutral() {
        let t = Tagger::from_embeddings(
            vec!["a".into(), "b".into()],
            &[vec![1.0, 0.0], vec![0.0, 1.0]],
            &[1.0, 1.0],
            Scorer::Softmax { scale: 10.0 },
        );
        let s = t.scores(&[vec![2.0, 0.0]]);
        let cn = std::f32::consts::FRAC_1_SQRT_2;
        let want = crate::tensor::softmax(&[10.0, 10.0 * cn])[0];
        assert!((s[0] - want).abs() < 1e-6, "{} vs {want}", s[0]);
        assert!(s[1] < 0.5);
        assert_eq!(t.tags(&s, 0.5).iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(), ["a"]);
        // a second view where "b" is strong raises b only
        let s2 = t.scores(&[vec![2.0, 0.0], vec![0.0, 3.0]]);
        assert_eq!(s2[0], s[0]);
        assert!(s2[1] > 0.5);
    }

    #[test]
    fn crops_cover_the_image() {
        let img = RgbImage::new(100, 50);
        let v = views(&img, true);
        assert_eq!(v.len(), 5);
        assert!(v[1..].iter().all(|c| c.dimensions() == (60, 30)));
        assert_eq!(views(&img, false).len(), 1);
    }
}
