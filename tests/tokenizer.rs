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
