//! Labels from what a person types — one rule for the CLI (`classify`, `tag`, `fidelity` `--labels`), the page, the
//! widget and the collection view:
//!
//! - split on commas and new lines;
//! - each piece trimmed, its inner runs of whitespace made one space (whitespace as JavaScript's `\s` and `trim()`
//!   define it, so that the page's copy agrees on every input);
//! - empty pieces dropped, and a label that repeats kept once, where it first appears.
//!
//! www/lib/labels.js keeps a copy for the page's synchronous use; tests/browser/labels.test.mjs checks it against
//! this function, which the wasm package exports as `parseLabels`.

use std::collections::HashSet;

use crate::error::{Error, Result};

/// The prompt of each label: `template` with its `{}` replaced by the label. A template holds exactly one `{}`:
/// none would give every label the same prompt (equal scores), two would say the label twice.
pub fn prompts(template: &str, labels: &[String]) -> Result<Vec<String>> {
    check_template(template)?;
    Ok(labels.iter().map(|l| template.replace("{}", l)).collect())
}

/// `template` holds exactly one `{}`, or an error that shows it and says why.
pub fn check_template(template: &str) -> Result<()> {
    match template.matches("{}").count() {
        1 => Ok(()),
        0 => Err(Error::Input(format!(
            "template {template:?} has no {{}} where the label goes (every label would get the same prompt); \
             e.g. \"a photo of a {{}}.\""
        ))),
        n => Err(Error::Input(format!(
            "template {template:?} has {n} {{}}; a template holds exactly one, where the label goes"
        ))),
    }
}

/// A score threshold (`tag --threshold`, the wasm `tag`): a number in [0, 1].
pub fn check_threshold(threshold: f32) -> Result<()> {
    if (0.0..=1.0).contains(&threshold) {
        return Ok(());
    }
    Err(Error::Input(format!(
        "threshold {threshold} is not in [0, 1]: scores are probabilities (0.5: the tag beats the neutral prompt)"
    )))
}

/// `"cat, dog\n golden   retriever,cat"` → `["cat", "dog", "golden retriever"]`.
pub fn parse_labels(text: &str) -> Vec<String> {
    dedup(text.split([',', '\n']).map(clean))
}

/// A label file: one label per line (commas stay inside the label: "zebra, striped" is one), `#` starts a
/// comment; each line cleaned and de-duplicated as [`parse_labels`] does.
pub fn parse_label_lines(text: &str) -> Vec<String> {
    dedup(text.lines().map(|line| clean(line.split('#').next().unwrap_or(""))))
}

/// Trimmed, inner whitespace runs as one space.
fn clean(piece: &str) -> String {
    piece.split(is_js_space).filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The non-empty labels, each first occurrence only.
fn dedup(labels: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    labels.filter(|l| !l.is_empty() && seen.insert(l.clone())).collect()
}

/// JavaScript's whitespace (ECMAScript WhiteSpace and LineTerminator: what `\s` matches and `trim()` removes).
/// Not Rust's `char::is_whitespace`: that one also has U+0085 and lacks U+FEFF.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_new_lines_whitespace_and_duplicates() {
        assert_eq!(
            parse_labels(" cat,dog\n\n  golden   retriever ,cat,, \nhot dog\r\n"),
            ["cat", "dog", "golden retriever", "hot dog"]
        );
        assert!(parse_labels(" , \n ").is_empty());
        assert_eq!(parse_labels("a\u{a0}b,\u{feff}c\u{3000},a b,\u{85}d"), ["a b", "c", "\u{85}d"]);
        assert_eq!(parse_labels("Cat,cat"), ["Cat", "cat"], "case is kept: labels are prompts");
    }

    #[test]
    fn templates_hold_exactly_one_slot_and_thresholds_are_probabilities() {
        let labels = ["cat".to_string(), "dog".to_string()];
        assert_eq!(prompts("a {}.", &labels).unwrap(), ["a cat.", "a dog."]);
        let none = prompts("a photo.", &labels).unwrap_err().to_string();
        assert!(none.contains("has no {} where the label goes"), "{none}");
        let two = check_template("a {} and a {}").unwrap_err().to_string();
        assert!(two.contains("has 2 {}; a template holds exactly one"), "{two}");
        for ok in [0.0, 0.5, 1.0] {
            assert!(check_threshold(ok).is_ok());
        }
        for bad in [5.0, -0.1, f32::NAN, f32::INFINITY] {
            assert!(check_threshold(bad).unwrap_err().to_string().contains("is not in [0, 1]"), "{bad}");
        }
    }

    #[test]
    fn label_files_keep_commas_and_drop_comments() {
        let file = "# tags\nred\nblue   sky\n\nzebra, striped # a comment\nred\r\n";
        assert_eq!(parse_label_lines(file), ["red", "blue sky", "zebra, striped"]);
    }
}
