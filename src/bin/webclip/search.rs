//! `webclip search`: text → photos and photo → similar photos over an index from `webclip index`. One JSON line
//! per query: `{"query": TEXT | "like": IMAGE, "results": [{"file", "path", "score"}…]}`, best first, `score`
//! the cosine between the query embedding and the stored vector. The index is checked to come from this model
//! (its fingerprint) before any search.

use std::path::{Path, PathBuf};

use serde_json::json;
use webclip::backend::Backend;
use webclip::tasks::fingerprint::{probe_pixels, Fingerprint, PROBE_TEXT};
use webclip::tasks::search::Index;
use webclip::{Error, Result, Session};

/// Reads and validates an index file.
pub fn open(path: &Path) -> Result<Index> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Index::from_bytes(&bytes, &path.display().to_string())
}

pub fn run<B: Backend>(
    session: &Session<B>,
    index: &Index,
    index_name: &str,
    queries: &[String],
    like: &[PathBuf],
    top: usize,
) -> Result<bool> {
    let what = format!("index {index_name}");
    let dim = session.model.config.embedding_dim();
    let mut all_ok = true;
    if !queries.is_empty() {
        // the probe rides in the same batch as the queries
        let mut texts: Vec<&str> = vec![PROBE_TEXT];
        texts.extend(queries.iter().map(String::as_str));
        let mut e = session.embed_texts(&texts)?;
        let probe = e.remove(0);
        Fingerprint::from_embeddings(dim, Some(&probe), None).check(&index.fingerprint, &what)?;
        for (q, emb) in queries.iter().zip(&e) {
            println!("{}", json!({ "query": q, "results": results(index, emb, top)? }));
        }
    }
    if !like.is_empty() {
        let mut pixels = vec![probe_pixels(session)];
        let mut names = Vec::new();
        for path in like {
            let name = path.display().to_string();
            match std::fs::read(path).map_err(|e| Error::io(path, e)).and_then(|b| session.pixels(&b, &name)) {
                Ok(p) => {
                    pixels.push(p);
                    names.push(name);
                }
                Err(e) => {
                    all_ok = false;
                    eprintln!("error: {e}");
                    println!("{}", json!({ "like": name, "error": e.to_string() }));
                }
            }
        }
        let mut e = session.embed_images(&pixels)?;
        let probe = e.remove(0);
        Fingerprint::from_embeddings(dim, None, Some(&probe)).check(&index.fingerprint, &what)?;
        for (name, emb) in names.iter().zip(&e) {
            println!("{}", json!({ "like": name, "results": results(index, emb, top)? }));
        }
    }
    Ok(all_ok)
}

fn results(index: &Index, query: &[f32], top: usize) -> Result<Vec<serde_json::Value>> {
    let root = Path::new(&index.root);
    Ok(index
        .search(query, top)?
        .into_iter()
        .map(|h| {
            let file = &index.files()[h.row];
            json!({ "file": file, "path": root.join(file).display().to_string(), "score": h.score })
        })
        .collect())
}
