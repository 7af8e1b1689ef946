//! Beam search over the caption's slots. Every candidate it keeps has been scored as a whole sentence by CLIP
//! (cosine of the sentence's text embedding with the image's), never by adding per-slot scores:
//!
//! 1. all subjects, scored from the phrase table (each subject's prompt *is* its default caption): one
//!    matrix-vector product; the beam starts as the best `beam` of them;
//! 2. for each other slot (style, scene, attribute, count): the slot's entries are ranked by their own prompts
//!    (matrix-vector again) and the best `shortlist` fill that slot in every beam candidate; these new sentences
//!    (≤ beam × shortlist) are the only text passes; the beam becomes the best `beam` of old and new, so leaving
//!    a slot empty is always a choice.
//!
//! The result is the best sentence among every one scored. With `beam` ≥ the number of candidates and
//! `shortlist` ≥ every slot's size, that is every sentence the vocabulary can make (the brute-force test).

use std::collections::HashMap;

use super::grammar::{sentence, Slots};
use super::table::{dot, PhraseTable, Slot};
use super::vocab::Vocabulary;
use super::{Caption, CaptionOptions, Scored};

/// The slots filled after the subject, in order: the medium changes the sentence most, counts least.
const STEPS: [Slot; 4] = [Slot::Style, Slot::Scene, Slot::Attribute, Slot::Count];

pub(super) struct Beam<'a> {
    vocab: &'a Vocabulary,
    table: &'a PhraseTable,
    /// normalised image embedding `(P,)`
    image: Vec<f32>,
    options: CaptionOptions,
    /// every scored candidate and its cosine
    scored: HashMap<Slots, f32>,
    beam: Vec<(Slots, f32)>,
    step: usize,
    /// candidates handed out by [`Beam::next_texts`], waiting for their embeddings
    pending: Vec<Slots>,
}

impl<'a> Beam<'a> {
    pub fn new(vocab: &'a Vocabulary, table: &'a PhraseTable, image: Vec<f32>, options: CaptionOptions) -> Self {
        let subjects = table.scores(Slot::Subject, &image);
        let scored: HashMap<Slots, f32> = subjects.iter().enumerate().map(|(i, &s)| (Slots::subject(i), s)).collect();
        let mut beam: Vec<(Slots, f32)> = scored.iter().map(|(k, v)| (*k, *v)).collect();
        keep_best(&mut beam, options.beam.max(1));
        Beam { vocab, table, image, options, scored, beam, step: 0, pending: Vec::new() }
    }

    /// The sentences to embed next (the current slot filled in each beam candidate), or None when done.
    pub fn next_texts(&mut self) -> Option<Vec<String>> {
        while self.step < STEPS.len() {
            let slot = STEPS[self.step];
            self.step += 1;
            let mut fresh = Vec::new();
            for choice in self.shortlist(slot) {
                for (c, _) in &self.beam {
                    if let Some(n) = fill(c, slot, choice) {
                        if !self.scored.contains_key(&n) && !fresh.contains(&n) {
                            fresh.push(n);
                        }
                    }
                }
            }
            if !fresh.is_empty() {
                let texts = fresh.iter().map(|s| sentence(self.vocab, s)).collect();
                self.pending = fresh;
                return Some(texts);
            }
        }
        None
    }

    /// Scores the sentences from the last [`Beam::next_texts`] with their text embeddings (any norm).
    pub fn absorb(&mut self, embeddings: &[Vec<f32>]) {
        for (c, e) in self.pending.drain(..).zip(embeddings) {
            let norm = dot(e, e).sqrt().max(1e-12);
            let score = dot(e, &self.image) / norm;
            self.scored.insert(c, score);
            self.beam.push((c, score));
        }
        keep_best(&mut self.beam, self.options.beam.max(1));
    }

    /// The best sentence and the runners-up, distinct sentences by descending score.
    pub fn result(self) -> Caption {
        let mut all: Vec<(Slots, f32)> = self.scored.into_iter().collect();
        sort(&mut all);
        let mut seen = std::collections::HashSet::new();
        let mut ranked = all.into_iter().filter_map(|(c, score)| {
            let caption = sentence(self.vocab, &c);
            seen.insert(caption.clone()).then_some(Scored { caption, score })
        });
        let best = ranked.next().unwrap_or(Scored { caption: String::new(), score: f32::NAN });
        let alternatives = ranked.take(self.options.alternatives).collect();
        Caption { caption: best.caption, score: best.score, alternatives }
    }

    /// The `shortlist` best entries of `slot` by their own prompt; the default style is never "filled in".
    fn shortlist(&self, slot: Slot) -> Vec<usize> {
        let scores = self.table.scores(slot, &self.image);
        let mut order: Vec<usize> = (0..scores.len()).filter(|&i| !(slot == Slot::Style && i == 0)).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        order.truncate(self.options.shortlist);
        order
    }
}

/// `c` with `slot` set to `choice`, or None when `c` already has that slot filled.
fn fill(c: &Slots, slot: Slot, choice: usize) -> Option<Slots> {
    let mut n = *c;
    let target = match slot {
        Slot::Subject => return None,
        Slot::Count => &mut n.count,
        Slot::Attribute => &mut n.attribute,
        Slot::Scene => &mut n.scene,
        Slot::Style => {
            if n.style != 0 {
                return None;
            }
            n.style = choice;
            return Some(n);
        }
    };
    if target.is_some() {
        return None;
    }
    *target = Some(choice);
    Some(n)
}

/// Descending score; equal scores in slot order, so the result never depends on hashing.
fn sort(v: &mut [(Slots, f32)]) {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

fn keep_best(v: &mut Vec<(Slots, f32)>, n: usize) {
    sort(v);
    v.dedup_by(|a, b| a.0 == b.0);
    v.truncate(n);
}
