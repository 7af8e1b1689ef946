//! Turning slot choices into an English sentence: `{style} of {count | a/an} {attribute} {subject} {scene}.`
//! The sentence is both what CLIP scores and what the user reads, so it must be grammatical enough for both.

use super::vocab::Vocabulary;

/// One choice per slot (indices into the [`Vocabulary`] lists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slots {
    pub subject: usize,
    pub count: Option<usize>,
    pub attribute: Option<usize>,
    pub scene: Option<usize>,
    /// `styles[0]` is the default
    pub style: usize,
}

impl Slots {
    /// "a photo of a {subject}."
    pub fn subject(subject: usize) -> Self {
        Slots { subject, count: None, attribute: None, scene: None, style: 0 }
    }
}

/// "a photo of two red dogs on a beach."
pub fn sentence(v: &Vocabulary, s: &Slots) -> String {
    let subject = &v.subjects[s.subject];
    let attribute = s.attribute.map(|i| v.attributes[i].as_str());
    let noun = match s.count {
        Some(_) => plural(subject),
        None => subject.clone(),
    };
    let phrase = match attribute {
        Some(a) => format!("{a} {noun}"),
        None => noun,
    };
    let determined = match s.count {
        Some(i) => format!("{} {phrase}", v.counts[i]),
        None if is_plural_only(subject) => phrase,
        None => format!("{} {phrase}", article(&phrase)),
    };
    let scene = s.scene.map(|i| format!(" {}", v.scenes[i])).unwrap_or_default();
    format!("{} of {determined}{scene}.", v.styles[s.style])
}

/// "a" or "an" for the phrase that follows, by its sound as far as the spelling tells: "an apple", "a unicorn",
/// "an hour", "an X-ray".
pub fn article(phrase: &str) -> &'static str {
    let w = phrase.trim_start().to_lowercase();
    const A_BEFORE: [&str; 8] = ["uni", "use", "usu", "uti", "eu", "one", "once", "ewe"];
    const AN_BEFORE: [&str; 6] = ["hour", "honest", "honor", "heir", "x-", "mri"];
    if AN_BEFORE.iter().any(|p| w.starts_with(p)) {
        return "an";
    }
    if A_BEFORE.iter().any(|p| w.starts_with(p)) {
        return "a";
    }
    match w.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// Nouns that are plural already and take no article: "sunglasses", not "a sunglasses".
fn is_plural_only(noun: &str) -> bool {
    const WORDS: [&str; 10] =
        ["sunglasses", "glasses", "scissors", "jeans", "trousers", "shorts", "pants", "skis", "binoculars", "tights"];
    let last = noun.rsplit(' ').next().unwrap_or(noun).to_lowercase();
    WORDS.contains(&last.as_str())
}

/// The plural of a singular noun phrase: the head noun changes ("group of people" → "groups of people",
/// "hot dog" → "hot dogs"), with English irregulars and the common spelling rules.
pub fn plural(phrase: &str) -> String {
    // the head of "X of Y" is X; otherwise the last word
    let (head, tail) = match phrase.find(" of ") {
        Some(i) => (&phrase[..i], &phrase[i..]),
        None => (phrase, ""),
    };
    let (before, last) = match head.rfind(' ') {
        Some(i) => (&head[..=i], &head[i + 1..]),
        None => ("", head),
    };
    format!("{before}{}{tail}", plural_word(last))
}

fn plural_word(word: &str) -> String {
    const IRREGULAR: [(&str, &str); 16] = [
        ("person", "people"),
        ("man", "men"),
        ("woman", "women"),
        ("child", "children"),
        ("mouse", "mice"),
        ("goose", "geese"),
        ("foot", "feet"),
        ("tooth", "teeth"),
        ("ox", "oxen"),
        ("knife", "knives"),
        ("wife", "wives"),
        ("leaf", "leaves"),
        ("wolf", "wolves"),
        ("loaf", "loaves"),
        ("shelf", "shelves"),
        ("calf", "calves"),
    ];
    const SAME: [&str; 12] =
        ["sheep", "deer", "fish", "moose", "bison", "aircraft", "salmon", "trout", "series", "species", "food", "text"];
    let lower = word.to_lowercase();
    if let Some((_, p)) = IRREGULAR.iter().find(|(s, _)| *s == lower) {
        return keep_case(word, p);
    }
    if SAME.contains(&lower.as_str()) || lower.ends_with("fish") || is_plural_only(&lower) {
        return word.to_string();
    }
    for suffix in ["man", "woman"] {
        if lower.ends_with(suffix) && lower.len() > suffix.len() && !lower.ends_with("human") {
            return format!("{}en", &word[..word.len() - 2]);
        }
    }
    let ends = |s: &str| lower.ends_with(s);
    if ends("s") || ends("x") || ends("z") || ends("ch") || ends("sh") {
        return format!("{word}es");
    }
    let bytes = lower.as_bytes();
    if ends("y") && bytes.len() > 1 && !b"aeiou".contains(&bytes[bytes.len() - 2]) {
        return format!("{}ies", &word[..word.len() - 1]);
    }
    format!("{word}s")
}

/// `plural` in the capitalisation of `word` ("Man" → "Men").
fn keep_case(word: &str, plural: &str) -> String {
    match word.chars().next() {
        Some(c) if c.is_uppercase() => {
            let mut p = plural.chars();
            p.next().map(|f| f.to_uppercase().chain(p).collect()).unwrap_or_default()
        }
        _ => plural.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles() {
        for (w, a) in [("apple", "an"), ("dog", "a"), ("unicorn", "a"), ("hour", "an"), ("oil painting", "an")] {
            assert_eq!(article(w), a, "{w}");
        }
    }

    #[test]
    fn plurals() {
        let cases = [
            ("dog", "dogs"),
            ("bus", "buses"),
            ("fox", "foxes"),
            ("butterfly", "butterflies"),
            ("monkey", "monkeys"),
            ("person", "people"),
            ("woman", "women"),
            ("fireman", "firemen"),
            ("goldfish", "goldfish"),
            ("group of people", "groups of people"),
            ("hot dog", "hot dogs"),
            ("pair of skis", "pairs of skis"),
            ("knife", "knives"),
        ];
        for (s, p) in cases {
            assert_eq!(plural(s), p, "{s}");
        }
    }

    #[test]
    fn sentences() {
        let v = Vocabulary {
            subjects: vec!["apple".into(), "sunglasses".into()],
            counts: vec!["two".into()],
            attributes: vec!["red".into(), "wooden".into()],
            scenes: vec!["on a table".into()],
            styles: vec!["a photo".into(), "an oil painting".into()],
        };
        assert_eq!(sentence(&v, &Slots::subject(0)), "a photo of an apple.");
        let all = Slots { subject: 0, count: Some(0), attribute: Some(0), scene: Some(0), style: 1 };
        assert_eq!(sentence(&v, &all), "an oil painting of two red apples on a table.");
        let wooden = Slots { attribute: Some(1), ..Slots::subject(0) };
        assert_eq!(sentence(&v, &wooden), "a photo of a wooden apple.");
        assert_eq!(sentence(&v, &Slots::subject(1)), "a photo of sunglasses.");
    }
}
