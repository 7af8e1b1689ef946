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
