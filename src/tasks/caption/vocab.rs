//! The caption vocabularies: one list per slot of the sentence, from src/assets/vocab/ (provenance in
//! src/assets/README.md) and the ImageNet-1k class names.

use crate::error::{Error, Result};

const OBJECTS: &str = include_str!("../../assets/vocab/objects.txt");
const COUNTS: &str = include_str!("../../assets/vocab/counts.txt");
const COLOURS: &str = include_str!("../../assets/vocab/colours.txt");
const MATERIALS: &str = include_str!("../../assets/vocab/materials.txt");
const SCENES: &str = include_str!("../../assets/vocab/scenes.txt");
const STYLES: &str = include_str!("../../assets/vocab/styles.txt");
const IMAGENET: &str = include_str!("../../assets/prompts/imagenet_classnames.json");

/// Words per slot. A caption is `{style} of {count | a/an} {attribute} {subject} {scene}.`, every slot but the
/// subject and the style optional; `styles[0]` is the default style ("a photo").
#[derive(Clone, Debug, PartialEq)]
pub struct Vocabulary {
    /// singular noun phrases: "dog", "group of people"
    pub subjects: Vec<String>,
    /// count words; each makes the subject plural: "two", "several"
    pub counts: Vec<String>,
    /// colour and material adjectives: "red", "wooden"
    pub attributes: Vec<String>,
    /// places with their preposition: "on a beach", "indoors"
    pub scenes: Vec<String>,
    /// noun phrases with their article: "a photo", "an oil painting"
    pub styles: Vec<String>,
}

impl Vocabulary {
    /// The bundled vocabulary: ImageNet-1k names (parentheses dropped, first of "a / b" kept) and
    /// src/assets/vocab/objects.txt as subjects, colours + materials as attributes, counts, scenes and styles.
    pub fn builtin() -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct ImageNet {
            classnames: Vec<String>,
        }
        let imagenet: ImageNet = serde_json::from_str(IMAGENET)
            .map_err(|source| Error::Json { file: "src/assets/prompts/imagenet_classnames.json".into(), source })?;
        let mut subjects = parse_list(OBJECTS);
        subjects.extend(imagenet.classnames.iter().map(|n| clean_class_name(n)));
        let mut attributes = parse_list(COLOURS);
        attributes.extend(parse_list(MATERIALS));
        Vocabulary {
            subjects,
            counts: parse_list(COUNTS),
            attributes,
            scenes: parse_list(SCENES),
            styles: parse_list(STYLES),
        }
        .deduplicated()
        .validated()
    }

    /// Drops repeated entries (case-insensitively) in every list, keeping the first.
    pub fn deduplicated(mut self) -> Self {
        for list in [&mut self.subjects, &mut self.counts, &mut self.attributes, &mut self.scenes, &mut self.styles] {
            let mut seen = std::collections::HashSet::new();
            list.retain(|w| seen.insert(w.to_lowercase()));
        }
        self
    }

    /// Errors when a caption cannot be made: no subject or no style, or an empty entry.
    pub fn validated(self) -> Result<Self> {
        if self.subjects.is_empty() || self.styles.is_empty() {
            return Err(Error::Input(
                "the caption vocabulary needs at least one subject and one style (the first style, e.g. \
                 \"a photo\", is the default)"
                    .into(),
            ));
        }
        let lists = [&self.subjects, &self.counts, &self.attributes, &self.scenes, &self.styles];
        if lists.iter().any(|l| l.iter().any(|w| w.trim().is_empty() || w.contains('\n'))) {
            return Err(Error::Input("caption vocabulary entries must be non-empty single lines".into()));
        }
        Ok(self)
    }

    /// Number of entries over all slots.
    pub fn len(&self) -> usize {
        self.subjects.len() + self.counts.len() + self.attributes.len() + self.scenes.len() + self.styles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One entry per line; blank lines and `#` comments skipped, whitespace trimmed.
pub fn parse_list(text: &str) -> Vec<String> {
    text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// "kite (bird of prey)" → "kite"; "baluster / handrail" → "baluster": a caption shows the words CLIP scored.
fn clean_class_name(name: &str) -> String {
    let no_parens = match name.find(" (") {
        Some(i) => &name[..i],
        None => name,
    };
    no_parens.split(" / ").next().unwrap_or(no_parens).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_are_clean() {
        let v = Vocabulary::builtin().unwrap();
        assert_eq!(v.styles[0], "a photo");
        assert!(v.subjects.len() > 1000, "ImageNet + objects: {}", v.subjects.len());
        assert!(v.subjects.iter().all(|s| !s.contains('(') && !s.contains(" / ")));
        assert!(v.subjects.contains(&"kite".to_string()) && v.attributes.contains(&"wooden".to_string()));
        let mut lower: Vec<String> = v.subjects.iter().map(|s| s.to_lowercase()).collect();
        lower.sort();
        lower.dedup();
        assert_eq!(lower.len(), v.subjects.len(), "no duplicate subjects");
    }

    #[test]
    fn parse_list_skips_comments() {
        assert_eq!(parse_list("# head\n a b \n\nc # tail\n"), ["a b", "c"]);
    }
}
