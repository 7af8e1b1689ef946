//! Tasks built on embeddings, not inside the model: zero-shot labels, captions (composed from vocabularies and
//! ranked by CLIP), multi-label tags, and search over an index of a photo collection.

pub mod caption;
pub mod fingerprint;
pub mod labels;
pub mod prompts;
pub mod search;
mod store;
pub mod tag;
pub mod zero_shot;

/// The 1000 ImageNet class names (OpenAI's cleaned list, src/assets/prompts): the default label set of
/// `webclip fidelity`.
#[cfg(not(target_arch = "wasm32"))]
pub fn imagenet_classes() -> crate::Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct File {
        classnames: Vec<String>,
    }
    const JSON: &str = include_str!("../assets/prompts/imagenet_classnames.json");
    serde_json::from_str::<File>(JSON)
        .map(|f| f.classnames)
        .map_err(|source| crate::Error::Json { file: "src/assets/prompts/imagenet_classnames.json".into(), source })
}
