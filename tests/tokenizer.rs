//! Token ids identical to Hugging Face's CLIPTokenizerFast for every case in tests/fixtures/tokenizer_cases.json
//! (punctuation, apostrophes, digits, unicode, emoji, whitespace, empty, > 77 tokens, special-token strings).

mod common;

use serde::Deserialize;
use webclip::tokenizer::TextTokenizer;

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
}

#[test]
fn ids_match_hugging_face() {
    let cases: Vec<Case> =
        serde_json::from_slice(&std::fs::read(common::fixtures().join("tokenizer_cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let tok = TextTokenizer::bundled(77).unwrap();
    let mut failures = Vec::new();
    for c in &cases {
        let got = tok.encode(&c.text).unwrap();
        if got != c.ids {
            failures.push(format!("{:?}\n  hf:   {:?}\n  ours: {:?}", c.text, c.ids, got));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn long_text_is_truncated_with_end_token_kept() {
    let tok = TextTokenizer::bundled(77).unwrap();
    let ids = tok.encode(&"word ".repeat(200)).unwrap();
    assert_eq!(ids.len(), 77);
    assert_eq!((ids[0], ids[76]), (49406, 49407));
}

#[test]
fn broken_tokenizer_json_is_an_error() {
    let err = TextTokenizer::from_json(b"{\"version\": \"1.0\"", 77).err().expect("error").to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}

#[test]
fn context_too_short_for_the_special_tokens_is_an_error() {
    // Found by fuzzing (fuzz/regressions/checkpoint/max-position-embeddings-1): a config.json with
    // max_position_embeddings 1 made tokenizers subtract its 2 special tokens from 1 (a panic).
    let err = TextTokenizer::bundled(1).err().expect("an error").to_string();
    assert!(err.contains("max_position_embeddings must be at least 2"), "{err}");
    let ids = TextTokenizer::bundled(2).unwrap().encode("a photo of a cat").unwrap();
    assert_eq!(ids, [49406, 49407]);
}

/// CLIP's tokenizer.json with `from` replaced by `to` (once).
fn edited(from: &str, to: &str) -> Vec<u8> {
    let json = String::from_utf8(webclip::tokenizer::BUNDLED_TOKENIZER_JSON.to_vec()).unwrap();
    assert!(json.contains(from), "{from:?} is not in the bundled tokenizer.json");
    json.replacen(from, to, 1).into_bytes()
}

#[test]
fn syntax_error_inside_the_decoder_is_an_error() {
    // Found by fuzzing (fuzz/regressions/checkpoint/tokenizer-json-syntax-error-in-decoder): tokenizers
    // `expect`s the decoder's JSON to be well-formed and panicked.
    let json = String::from_utf8(webclip::tokenizer::BUNDLED_TOKENIZER_JSON.to_vec()).unwrap();
    let decoder = json.find("\"decoder\"").expect("a decoder");
    let comma = decoder + json[decoder..].find(',').expect("a comma in the decoder");
    let mut broken = json.into_bytes();
    broken[comma] = 0x0C;
    let err = TextTokenizer::from_json(&broken, 77).err().expect("an error").to_string();
    assert!(err.contains("tokenizer.json could not be parsed") && err.contains("line"), "{err}");
}

#[test]
fn precompiled_normalizer_that_does_not_parse_is_an_error() {
    // tokenizers `expect`s a Precompiled normalizer (SentencePiece tokenizers) to deserialize, nested or not.
    for to in [
        r#""normalizer": {"type": "Precompiled", "precompiled_charsmap": 5}, "old_normalizer":"#,
        r#""normalizer": {"type": "Sequence", "normalizers": [{"type": "Precompiled"}]}, "old_normalizer":"#,
    ] {
        let err = TextTokenizer::from_json(&edited("\"normalizer\":", to), 77).err().expect("an error").to_string();
        assert!(err.contains("Precompiled"), "{err}");
    }
}
