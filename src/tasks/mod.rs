//! Tasks built on embeddings, not inside the model.

pub mod zero_shot;
