//! A prefix tree (trie) of token sequences: the rows a causal tower really has to compute.
//!
//! Under a causal mask a token's hidden state depends only on itself and the tokens before it, so sequences that
//! share a prefix ("a photo of a cat.", "a photo of a dog.") have identical states along it. One row per distinct
//! prefix — a node of the trie — computes each of them once; attention then runs with [`Mask::Tree`] over the
//! node's parent chain, and position ids are the nodes' depths. Ten prompts "a photo of a X." (8 tokens, 5 shared)
//! are 5 + 10·3 = 35 rows instead of 80.
//!
//! [`Mask::Tree`]: crate::backend::Mask::Tree

use std::collections::HashMap;

use crate::error::{Error, Result};

/// The trie of some sequences, one row per node, every parent before its children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixTree {
    /// `(nodes)` the token of each node.
    pub tokens: Vec<u32>,
    /// `(nodes)` the node's depth, 0 for a first token: its position id.
    pub depths: Vec<u32>,
    /// `(nodes)` the node one token shorter, `-1` for a first token; always `< ` the node's own index.
    pub parents: Vec<i32>,
    /// `(sequences)` the node of each sequence's last token, in input order (equal sequences share it).
    pub ends: Vec<usize>,
}

impl PrefixTree {
    /// The trie of `sequences`, nodes numbered in first-seen order (so a parent comes before its children). An
    /// empty sequence has no last token to point at: an error.
    pub fn new<S: AsRef<[u32]>>(sequences: &[S]) -> Result<PrefixTree> {
        let mut tree = PrefixTree { tokens: vec![], depths: vec![], parents: vec![], ends: vec![] };
        let mut children: HashMap<(i32, u32), usize> = HashMap::new();
        for (n, seq) in sequences.iter().enumerate() {
            let seq = seq.as_ref();
            if seq.is_empty() {
                return Err(Error::Input(format!("prefix tree: sequence {n} is empty; every text needs a token")));
            }
            let mut node = -1i32;
            for (depth, &token) in seq.iter().enumerate() {
                let next = *children.entry((node, token)).or_insert_with(|| {
                    tree.tokens.push(token);
                    tree.depths.push(depth as u32);
                    tree.parents.push(node);
                    tree.tokens.len() - 1
                });
                node = next as i32;
            }
            tree.ends.push(node as usize);
        }
        Ok(tree)
    }

    /// Rows to compute: the number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens from the first to `node`, walking the parents (what the row stands for).
    pub fn sequence(&self, node: usize) -> Vec<u32> {
        let mut seq = vec![];
        let mut n = node as i32;
        while n >= 0 {
            seq.push(self.tokens[n as usize]);
            n = self.parents[n as usize];
        }
        seq.reverse();
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every node's parent comes before it and is one shorter; every sequence is recovered from its end node.
    fn check_invariants(tree: &PrefixTree, seqs: &[Vec<u32>]) {
        for (i, &p) in tree.parents.iter().enumerate() {
            assert!(p >= -1 && (p as i64) < i as i64, "node {i}: parent {p}");
            let parent_depth = if p < 0 { -1 } else { tree.depths[p as usize] as i64 };
            assert_eq!(tree.depths[i] as i64, parent_depth + 1, "node {i}: depth");
        }
        for (s, &end) in seqs.iter().zip(&tree.ends) {
            assert_eq!(&tree.sequence(end), s);
        }
        // no two nodes stand for the same prefix
        let mut prefixes: Vec<Vec<u32>> = (0..tree.len()).map(|n| tree.sequence(n)).collect();
        prefixes.sort();
        prefixes.dedup();
        assert_eq!(prefixes.len(), tree.len(), "duplicate nodes");
    }

    #[test]
    fn ten_prompts_sharing_a_template_are_35_rows() {
        // bos "a photo of a" X "." eos: 5 shared tokens, 3 of each text's own
        let seqs: Vec<Vec<u32>> = (0..10).map(|x| vec![49406, 320, 1125, 539, 320, 1000 + x, 269, 49407]).collect();
        let tree = PrefixTree::new(&seqs).unwrap();
        assert_eq!(tree.len(), 5 + 10 * 3);
        assert_eq!(tree.ends.len(), 10);
        assert_eq!(&tree.parents[..6], &[-1, 0, 1, 2, 3, 4]);
        assert_eq!(tree.parents[8], 4, "the second text branches off the shared prefix");
        check_invariants(&tree, &seqs);
    }

    #[test]
    fn duplicates_share_their_end_and_a_prefix_text_ends_inside_another() {
        let seqs = vec![vec![1, 2, 3, 4], vec![1, 2], vec![1, 2, 3, 4], vec![5], vec![1, 2, 6], vec![1, 2, 3, 4, 7]];
        let tree = PrefixTree::new(&seqs).unwrap();
        // nodes: 1 2 3 4 | 5 | 6 | 7
        assert_eq!(tree.tokens, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(tree.depths, vec![0, 1, 2, 3, 0, 2, 4]);
        assert_eq!(tree.parents, vec![-1, 0, 1, 2, -1, 1, 3]);
        assert_eq!(tree.ends, vec![3, 1, 3, 4, 5, 6]);
        check_invariants(&tree, &seqs);
    }

    #[test]
    fn a_single_text_is_a_chain() {
        let seqs = vec![vec![9, 9, 9]];
        let tree = PrefixTree::new(&seqs).unwrap();
        assert_eq!(
            (tree.parents.clone(), tree.depths.clone(), tree.ends.clone()),
            (vec![-1, 0, 1], vec![0, 1, 2], vec![2])
        );
        check_invariants(&tree, &seqs);
    }

    #[test]
    fn an_empty_sequence_is_an_error() {
        let err = PrefixTree::new(&[vec![1u32], vec![]]).unwrap_err().to_string();
        assert!(err.contains("sequence 1 is empty"), "{err}");
        assert!(PrefixTree::new::<Vec<u32>>(&[]).unwrap().is_empty());
    }
}
