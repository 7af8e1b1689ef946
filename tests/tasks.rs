//! Captions, tags and search on a tiny synthetic model: the caption composer against brute force over every
//! sentence, tag scores against zero-shot probabilities, search against brute-force cosine, file round trips and
//! errors. Random weights make the captions meaningless; these tests check the machinery, not the words.

mod common;

use std::path::Path;

use common::synth_tiny;
use webclip::backend::cpu::Cpu;
use webclip::tasks::caption::{sentence, CacheUse, CaptionOptions, Composer, Slots, Vocabulary};
use webclip::tasks::fingerprint::Fingerprint;
use webclip::tasks::search::{self, Index};
use webclip::tasks::tag::{self, Tagger, NEUTRAL_PROMPT};
use webclip::tasks::zero_shot;
use webclip::{Checkpoint, Session};

fn session(dir: &Path) -> Session<Cpu> {
    Session::new(Cpu::default(), Checkpoint::open(dir).unwrap()).unwrap()
}

/// Images with different content: solid colours, gradients, stripes.
fn images(s: &Session<Cpu>) -> Vec<Vec<f32>> {
    let pics: Vec<image::RgbImage> = vec![
        image::RgbImage::from_pixel(64, 48, image::Rgb([220, 30, 30])),
        image::RgbImage::from_fn(80, 80, |x, y| image::Rgb([(x * 3) as u8, (y * 3) as u8, 128])),
        image::RgbImage::from_fn(
            90,
            60,
            |x, _| if (x / 6) % 2 == 0 { image::Rgb([0, 0, 0]) } else { image::Rgb([255; 3]) },
        ),
        image::RgbImage::from_pixel(50, 70, image::Rgb([20, 160, 60])),
    ];
    let pixels: Vec<_> = pics.iter().map(|p| webclip::image::preprocess(p, &s.preprocess)).collect();
    s.embed_images(&pixels).unwrap()
}

fn small_vocab() -> Vocabulary {
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Vocabulary {
        subjects: l(&["cat", "dog", "car"]),
        counts: l(&["two"]),
        attributes: l(&["red", "wooden"]),
        scenes: l(&["on a beach", "indoors"]),
        styles: l(&["a photo", "a drawing"]),
    }
}

/// Every sentence the vocabulary makes, with its cosine against `image`.
fn brute_force(s: &Session<Cpu>, v: &Vocabulary, image: &[f32]) -> Vec<(String, f32)> {
    let opt = |n: usize| std::iter::once(None).chain((0..n).map(Some)).collect::<Vec<_>>();
    let mut texts = Vec::new();
    for subject in 0..v.subjects.len() {
        for count in opt(v.counts.len()) {
            for attribute in opt(v.attributes.len()) {
                for scene in opt(v.scenes.len()) {
                    for style in 0..v.styles.len() {
                        texts.push(sentence(v, &Slots { subject, count, attribute, scene, style }));
                    }
                }
            }
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let e = s.embed_texts(&refs).unwrap();
    let mut scored: Vec<(String, f32)> =
        texts.into_iter().zip(e.iter().map(|t| webclip::tensor::cosine(image, t))).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

#[test]
fn caption_is_the_best_sentence_by_brute_force() {
    let tmp = tempfile::tempdir().unwrap();
    synth_tiny(tmp.path(), 3);
    let s = session(tmp.path());
    let vocab = small_vocab();
    let exhaustive = CaptionOptions { beam: 1000, shortlist: 1000, alternatives: 5 };
    let wide = pollster::block_on(Composer::build_async(&s, vocab.clone(), exhaustive)).unwrap();
    let narrow = Composer {
        options: CaptionOptions::default(),
        ..pollster::block_on(Composer::build_async(&s, vocab.clone(), exhaustive)).unwrap()
    };
    for (i, image) in images(&s).iter().enumerate() {
        let all = brute_force(&s, &vocab, image);
        assert_eq!(all.len(), 3 * 2 * 3 * 3 * 2);
        let c = wide.caption(&s, image).unwrap();
        // the best sentence (a near-tie within float noise may swap the order of two sentences)
        assert!((c.score - all[0].1).abs() < 1e-5, "image {i}: {} {} vs brute force {:?}", c.caption, c.score, all[0]);
        let rank = all.iter().position(|(t, _)| *t == c.caption).unwrap();
        assert!(all[rank].1 >= all[0].1 - 1e-5, "image {i}: caption {:?} is rank {rank}", c.caption);
        assert_eq!(c.alternatives.len(), 5);
        for (alt, (_, want)) in c.alternatives.iter().zip(&all[1..]) {
            assert!((alt.score - want).abs() < 1e-5, "image {i}: alternative {alt:?} vs {want}");
        }

        // the default beam: every reported score is that sentence's true score, best first, all distinct
        let n = narrow.caption(&s, image).unwrap();
        let truth = |t: &str| all.iter().find(|(x, _)| x == t).unwrap_or_else(|| panic!("{t:?} not a sentence")).1;
        assert!((n.score - truth(&n.caption)).abs() < 1e-5);
        let mut prev = n.score;
        for a in &n.alternatives {
            assert!((a.score - truth(&a.caption)).abs() < 1e-5 && a.score <= prev && a.caption != n.caption);
            prev = a.score;
        }
        let beam_rank = all.iter().position(|(t, _)| *t == n.caption).unwrap();
        eprintln!(
            "image {i}: exhaustive {:?} ({:.4}); default beam {:?} = rank {beam_rank} of {}",
            c.caption,
            c.score,
            n.caption,
            all.len()
        );
        // deterministic
        assert_eq!(narrow.caption(&s, image).unwrap(), n);
    }
}

#[test]
fn caption_cache_round_trip_and_model_check() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, cache) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("cache"));
    synth_tiny(&a, 1);
    synth_tiny(&b, 2);
    let (sa, sb) = (session(&a), session(&b));
    let opts = CaptionOptions::default();
    let (built, used, _) = Composer::load_or_build(&sa, small_vocab(), opts, Some(&cache)).unwrap();
    assert_eq!(used, CacheUse::Built);
    let (hit, used, _) = Composer::load_or_build(&sa, small_vocab(), opts, Some(&cache)).unwrap();
    assert_eq!(used, CacheUse::Hit);
    assert_eq!(hit.table, built.table);
    // another model or another vocabulary never reads it
    let (_, used, _) = Composer::load_or_build(&sb, small_vocab(), opts, Some(&cache)).unwrap();
    assert_eq!(used, CacheUse::Built);
    let mut other = small_vocab();
    other.subjects.push("bird".into());
    assert_eq!(Composer::load_or_build(&sa, other.clone(), opts, Some(&cache)).unwrap().1, CacheUse::Built);
    // a damaged file is rebuilt, with a note
    let path = Composer::cache_path(&cache, &small_vocab(), &built.fingerprint);
    std::fs::write(&path, b"garbage").unwrap();
    let (_, used, note) = Composer::load_or_build(&sa, small_vocab(), opts, Some(&cache)).unwrap();
    assert_eq!(used, CacheUse::Built);
    assert!(note.unwrap().contains("not a safetensors file"));

    // bytes (the page's import/export): checked against the model and the vocabulary
    let bytes = built.to_bytes().unwrap();
    let back = pollster::block_on(Composer::from_bytes_async(&sa, small_vocab(), &bytes, "x", opts)).unwrap();
    assert_eq!(back.table, built.table);
    let err = pollster::block_on(Composer::from_bytes_async(&sb, small_vocab(), &bytes, "x", opts)).err().unwrap();
    assert!(err.to_string().contains("different model"), "{err}");
    let err = pollster::block_on(Composer::from_bytes_async(&sa, other, &bytes, "x", opts)).err().unwrap();
    assert!(err.to_string().contains("another caption vocabulary"), "{err}");
}

#[test]
fn tag_scores_are_two_way_zero_shot_probabilities() {
    let tmp = tempfile::tempdir().unwrap();
    synth_tiny(tmp.path(), 4);
    let s = session(tmp.path());
    let labels: Vec<String> = ["cat", "dog", "red car", "tree"].map(String::from).to_vec();
    let tagger = Tagger::build(&s, labels.clone(), "a photo of a {}.", NEUTRAL_PROMPT).unwrap();
    let neutral = s.embed_texts(&[NEUTRAL_PROMPT]).unwrap().remove(0);
    let mut any_above = false;
    for image in images(&s) {
        let scores = tagger.scores(std::slice::from_ref(&image));
        for (l, got) in labels.iter().zip(&scores) {
            let prompt = s.embed_texts(&[&format!("a photo of a {l}.")]).unwrap().remove(0);
            let want = zero_shot::probabilities(&image, &[prompt, neutral.clone()], s.logit_scale())[0];
            assert!((got - want).abs() < 1e-5, "{l}: {got} vs classify's {want}");
        }
        // the threshold keeps exactly the labels at or above it, best first
        for t in [0.0, 0.3, 0.5, 0.7, 1.0] {
            let kept = tagger.tags(&scores, t);
            assert_eq!(kept.len(), scores.iter().filter(|&&x| x >= t).count());
            assert!(kept.windows(2).all(|w| w[0].score >= w[1].score));
        }
        any_above |= scores.iter().any(|&x| x >= 0.5);
    }
    eprintln!("some tag above 0.5: {any_above}");
}

#[test]
fn tag_crops_take_the_best_view() {
    let tmp = tempfile::tempdir().unwrap();
    synth_tiny(tmp.path(), 4);
    let s = session(tmp.path());
    let tagger = Tagger::build(&s, vec!["red".into(), "stripes".into()], "a photo of {}.", NEUTRAL_PROMPT).unwrap();
    // a red square in one corner of a striped image
    let img = image::RgbImage::from_fn(120, 90, |x, y| match (x < 40 && y < 30, (x / 5) % 2) {
        (true, _) => image::Rgb([230, 20, 20]),
        (_, 0) => image::Rgb([0, 0, 0]),
        _ => image::Rgb([255, 255, 255]),
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let views = tag::view_pixels(&png, "corner.png", &s.preprocess, true).unwrap();
    assert_eq!(views.len(), 5);
    assert_eq!(views[0], webclip::image::load(&png, "corner.png", &s.preprocess).unwrap());
    let e = s.embed_images(&views).unwrap();
    let with = tagger.scores(&e);
    let each: Vec<Vec<f32>> = e.iter().map(|v| tagger.scores(std::slice::from_ref(v))).collect();
    for (k, w) in with.iter().enumerate() {
        let best = each.iter().map(|s| s[k]).fold(f32::MIN, f32::max);
        assert_eq!(*w, best, "label {k}: crops score is the best view's");
        assert!(*w >= each[0][k]);
    }
}

/// Parsed and written again.
fn back_again(bytes: &[u8]) -> Vec<u8> {
    Index::from_bytes(bytes, "idx").unwrap().to_bytes().unwrap()
}

fn fingerprint(s: &Session<Cpu>) -> Fingerprint {
    Fingerprint::of(s, true, true).unwrap()
}

#[test]
fn search_ranks_by_exact_cosine_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    synth_tiny(tmp.path(), 6);
    let s = session(tmp.path());
    let embeddings = images(&s);
    let texts = s.embed_texts(&["a red square", "stripes", "green"]).unwrap();
    for dims in [0, 48, 16] {
        let mut index = Index::new(fingerprint(&s), dims, "photos").unwrap();
        for (i, e) in embeddings.iter().enumerate() {
            index.insert(&format!("img{i}.png"), e).unwrap();
        }
        // quantization keeps each vector within int8 rounding of the f32 one
        for (row, e) in embeddings.iter().enumerate() {
            let c = common::cosine(&index.vector(row), &search::prepare(e, index.dims));
            assert!(c > 0.999, "dims {dims}: stored vector {row} cosine {c}");
        }
        for q in texts.iter().chain(&embeddings) {
            let hits = index.search(q, 10).unwrap();
            let x = search::prepare(q, index.dims);
            let mut brute: Vec<(usize, f64)> =
                (0..index.len()).map(|row| (row, common::cosine(&x, &index.vector(row)))).collect();
            brute.sort_by(|a, b| b.1.total_cmp(&a.1));
            assert_eq!(hits.len(), index.len());
            for (h, (row, score)) in hits.iter().zip(&brute) {
                assert!((h.score as f64 - score).abs() < 1e-5, "dims {dims}: {h:?} vs {row} {score}");
                assert!(h.row == *row || (h.score as f64 - brute[h.row].1).abs() < 1e-5);
            }
        }
        // an image finds itself first
        assert_eq!(index.search(&embeddings[2], 1).unwrap()[0].row, 2);
        let bytes = index.to_bytes().unwrap();
        assert_eq!(Index::from_bytes(&bytes, "idx").unwrap(), index);
        assert!(bytes == back_again(&bytes), "the same index gives the same bytes");
    }
    // replacing a file keeps one row
    let mut index = Index::new(fingerprint(&s), 0, "").unwrap();
    index.insert("a", &embeddings[0]).unwrap();
    index.insert("a", &embeddings[1]).unwrap();
    assert_eq!((index.len(), index.search(&embeddings[1], 1).unwrap()[0].score > 0.999), (1, true));
    let empty = Index::new(fingerprint(&s), 0, "").unwrap();
    assert_eq!(Index::from_bytes(&empty.to_bytes().unwrap(), "empty").unwrap(), empty);
    assert!(Index::new(fingerprint(&s), 65, "").is_err(), "more dims than the model has");
}

#[test]
fn index_files_fail_with_specific_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    synth_tiny(&a, 7);
    synth_tiny(&b, 8);
    let (sa, sb) = (session(&a), session(&b));
    let mut index = Index::new(fingerprint(&sa), 32, "photos").unwrap();
    for (i, e) in images(&sa).iter().enumerate() {
        index.insert(&format!("{i}.png"), e).unwrap();
    }
    let bytes = index.to_bytes().unwrap();
    let err = |b: &[u8]| Index::from_bytes(b, "my.index").expect_err("an error").to_string();

    let e = err(&bytes[..bytes.len() - 10]);
    assert!(e.contains("my.index") && e.contains("truncated or not a webclip index"), "{e}");
    assert!(err(b"hello").contains("truncated or not a webclip index"));
    let mut flipped = bytes.clone();
    let n = flipped.len();
    flipped[n - 20] ^= 0x55; // inside the scales
    assert!(err(&flipped).contains("corrupt"), "{}", err(&flipped));
    // a safetensors file that is not an index (a caption cache)
    let composer = pollster::block_on(Composer::build_async(&sa, small_vocab(), CaptionOptions::default())).unwrap();
    let e = err(&composer.to_bytes().unwrap());
    assert!(e.contains("not a webclip index") && e.contains("webclip-caption-cache"), "{e}");
    // a newer version
    let at = bytes.windows(13).position(|w| w == b"\"version\":\"1\"").expect("version in the header");
    let mut newer = bytes.clone();
    newer[at + 11] = b'9';
    assert!(err(&newer).contains("index version \"9\""), "{}", err(&newer));

    // the model check
    let loaded = Index::from_bytes(&bytes, "my.index").unwrap();
    fingerprint(&sa).check(&loaded.fingerprint, "index my.index").unwrap();
    let e = fingerprint(&sb).check(&loaded.fingerprint, "index my.index").err().unwrap().to_string();
    assert!(e.contains("index my.index was made with a different model"), "{e}");
}
