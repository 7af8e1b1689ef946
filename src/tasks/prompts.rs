//! Embedded prompts kept per model (the page's tag prompts): what a call still has to embed, and the embeddings of
//! all its prompts once that is done. Plain Rust, no backend: the wasm façade does the embedding in between.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};

/// prompt text → embedding, at most `max` entries (a single call that needs more keeps them all until the next).
pub struct PromptCache {
    known: HashMap<String, Vec<f32>>,
    max: usize,
}

/// One call's view of the cache, taken before its embedding pass: the embeddings it found (copied, so an eviction
/// by a concurrent call during the pass cannot take them away) and the distinct prompts it still has to embed.
pub struct Lookup {
    found: Vec<Option<Vec<f32>>>,
    /// the prompts not in the cache, each once, in first-seen order: embed these
    pub missing: Vec<String>,
}

impl PromptCache {
    pub fn new(max: usize) -> Self {
        PromptCache { known: HashMap::new(), max }
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// What `texts` find in the cache and what is left to embed.
    pub fn lookup(&self, texts: &[String]) -> Lookup {
        let found: Vec<Option<Vec<f32>>> = texts.iter().map(|t| self.known.get(t).cloned()).collect();
        let mut seen = HashSet::new();
        let missing = texts
            .iter()
            .zip(&found)
            .filter(|(t, f)| f.is_none() && seen.insert(t.as_str()))
            .map(|(t, _)| t.clone())
            .collect();
        Lookup { found, missing }
    }

    /// The embeddings of `texts` (in order), given `embedded` = the embeddings of `lookup.missing`; keeps those.
    /// When the cache would grow past `max`, it first forgets every prompt `texts` does not use.
    pub fn complete(&mut self, texts: &[String], lookup: Lookup, embedded: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>> {
        if embedded.len() != lookup.missing.len() {
            return Err(Error::Input(format!(
                "{} prompts were embedded for {} missing ones",
                embedded.len(),
                lookup.missing.len()
            )));
        }
        let new: HashMap<String, Vec<f32>> = lookup.missing.into_iter().zip(embedded).collect();
        let out = texts
            .iter()
            .zip(lookup.found)
            .map(|(t, f)| f.or_else(|| new.get(t).cloned()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::Input("a prompt was neither in the cache nor embedded".into()))?;
        if self.known.len() + new.len() > self.max {
            let used: HashSet<&str> = texts.iter().map(String::as_str).collect();
            self.known.retain(|t, _| used.contains(t.as_str()));
        }
        self.known.extend(new);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::PromptCache;

    fn texts(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    /// A fake embedding pass: the embedding of a prompt is its length, once.
    fn embed(cache: &mut PromptCache, list: &[&str], passes: &mut Vec<Vec<String>>) -> Vec<Vec<f32>> {
        let texts = texts(list);
        let lookup = cache.lookup(&texts);
        let embedded = lookup.missing.iter().map(|t| vec![t.len() as f32]).collect();
        passes.push(lookup.missing.clone());
        cache.complete(&texts, lookup, embedded).expect("every prompt embedded")
    }

    #[test]
    fn a_call_crossing_the_limit_keeps_the_prompts_it_already_had() {
        let mut cache = PromptCache::new(4);
        let mut passes = Vec::new();
        embed(&mut cache, &["a photo of a cat.", "a photo."], &mut passes);
        embed(&mut cache, &["a photo of a dog.", "a photo of a car.", "a photo."], &mut passes);
        assert_eq!(cache.len(), 4);
        // "a photo." (the neutral prompt) is known; the two new labels push the cache past 4
        let e = embed(&mut cache, &["a photo of a sofa.", "a photo of a tree.", "a photo."], &mut passes);
        assert_eq!(e, vec![vec![18.0], vec![18.0], vec![8.0]]);
        assert_eq!(passes.last().unwrap(), &texts(&["a photo of a sofa.", "a photo of a tree."]));
        assert!(cache.len() <= 4, "{} entries", cache.len());
        // the prompts of the last call survived the eviction: nothing to embed again
        embed(&mut cache, &["a photo.", "a photo of a tree."], &mut passes);
        assert!(passes.last().unwrap().is_empty(), "{:?}", passes.last());
    }

    #[test]
    fn duplicates_are_embedded_once_wherever_they_are() {
        let mut cache = PromptCache::new(16);
        let mut passes = Vec::new();
        let e = embed(&mut cache, &["a", "bb", "a", "ccc", "bb"], &mut passes);
        assert_eq!(passes, vec![texts(&["a", "bb", "ccc"])]);
        assert_eq!(e, vec![vec![1.0], vec![2.0], vec![1.0], vec![3.0], vec![2.0]]);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn one_call_larger_than_the_cache_still_gets_every_embedding() {
        let mut cache = PromptCache::new(2);
        let mut passes = Vec::new();
        let e = embed(&mut cache, &["a", "bb", "ccc"], &mut passes);
        assert_eq!(e.len(), 3);
        let e = embed(&mut cache, &["dddd", "a"], &mut passes);
        assert_eq!(e, vec![vec![4.0], vec![1.0]]);
    }

    #[test]
    fn an_eviction_during_the_pass_does_not_lose_what_the_lookup_found() {
        let mut cache = PromptCache::new(2);
        let mut passes = Vec::new();
        embed(&mut cache, &["a", "bb"], &mut passes);
        let mine = texts(&["a", "zzz"]);
        let lookup = cache.lookup(&mine);
        embed(&mut cache, &["x", "yy"], &mut passes); // another call, while this one's pass runs: evicts "a"
        let e = cache.complete(&mine, lookup, vec![vec![3.0]]).expect("complete");
        assert_eq!(e, vec![vec![1.0], vec![3.0]]);
    }

    #[test]
    fn a_wrong_number_of_embeddings_is_an_error() {
        let mut cache = PromptCache::new(2);
        let t = texts(&["a"]);
        let lookup = cache.lookup(&t);
        assert!(cache.complete(&t, lookup, vec![]).is_err());
    }
}
