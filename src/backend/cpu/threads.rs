//! How many threads the CPU backend splits a matmul across: the calling thread, which computes a share itself, and
//! rayon's global pool. Natively the pool has a thread per core (`RAYON_NUM_THREADS` changes it) and the matmul
//! makes as many shares. In the browser: one thread, unless this is the multi-threaded wasm build (feature
//! `threads`: shared memory, a std built with atomics) and the page started its pool of Web Workers (`initThreads`,
//! src/wasm): n threads in all, the caller and n − 1 workers, which [`set_total`] records.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many multiply-adds a matmul stays on the calling thread: waking the pool costs more.
const MIN_MACS: usize = 1 << 20;

static POOL: AtomicUsize = AtomicUsize::new(0);

/// Threads available to the CPU backend now.
pub fn available() -> usize {
    if cfg!(target_arch = "wasm32") {
        POOL.load(Ordering::Relaxed).max(1)
    } else {
        rayon::current_num_threads()
    }
}

/// Threads worth using for `macs` multiply-adds.
pub fn for_work(macs: usize) -> usize {
    if macs < MIN_MACS {
        1
    } else {
        available()
    }
}

/// Records that `n` threads now share the matmuls (the browser's: the caller and rayon's n − 1 workers).
#[cfg_attr(not(all(target_arch = "wasm32", feature = "threads")), allow(dead_code))]
pub fn set_total(n: usize) {
    POOL.store(n, Ordering::Relaxed);
}

/// Runs `f(first, part)` on `out` cut into parts of `per` units of `unit` values each (the last may be shorter),
/// `first` being the index of a part's first unit: the calling thread computes the first part, rayon's pool the
/// others, and it returns when all are done. One part runs inline. Parts write disjoint slices, so the result is the
/// same whatever the thread count whenever each unit's values depend on that unit alone.
pub fn split<F>(out: &mut [f32], unit: usize, per: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let len = unit * per.max(1);
    if len == 0 || out.len() <= len {
        return f(0, out);
    }
    rayon::in_place_scope(|s| {
        let mut parts = out.chunks_mut(len).enumerate();
        let first = parts.next();
        for (t, part) in parts {
            let f = &f;
            s.spawn(move |_| f(t * per, part));
        }
        if let Some((_, part)) = first {
            f(0, part);
        }
    });
}
