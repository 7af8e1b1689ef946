//! The multi-threaded build's pool (feature `threads`): rayon's global pool, its threads being Web Workers that
//! instantiate this module on the same shared memory (`threads.js` starts them). What wasm-bindgen-rayon does, but
//! with worker scripts loaded from their own URL (a CSP allowing scripts from 'self' allows them; blob: URLs need
//! more) and with a failed or hung worker rejecting the start instead of leaving it waiting.
//!
//! Order: the workers start first and block in [`thread_loop`], waiting for a [`ThreadBuilder`]; only once all of
//! them run is the pool built, its spawn handler handing each of them one builder. A start that failed leaves no
//! pool behind, and the CPU backend on one thread ([`crate::backend::cpu::threads`]).

use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;

use js_sys::JsString;
use rayon::{ThreadBuilder, ThreadPoolBuilder};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/src/wasm/threads.js")]
extern "C" {
    #[wasm_bindgen(js_name = startWorkers)]
    fn start_workers(module: JsValue, memory: JsValue, glue: JsString, count: usize) -> js_sys::Promise;
}

#[wasm_bindgen]
extern "C" {
    /// The URL of this build's webclip.js (the JS glue), which each worker imports.
    #[wasm_bindgen(thread_local_v2, js_namespace = ["import", "meta"], js_name = url)]
    static GLUE_URL: JsString;
}

/// Where the workers wait for their thread of the pool.
static BUILDERS: Mutex<Option<Receiver<ThreadBuilder>>> = Mutex::new(None);

/// Starts `workers` threads and builds rayon's global pool on them. Errors are messages for `initThreads`.
pub async fn start(workers: usize) -> Result<(), String> {
    let (send, receive) = channel();
    *BUILDERS.lock().map_err(|_| "the thread queue was poisoned (a bug)")? = Some(receive);
    let glue = GLUE_URL.with(Clone::clone);
    JsFuture::from(start_workers(wasm_bindgen::module(), wasm_bindgen::memory(), glue, workers))
        .await
        .map_err(|e| e.dyn_ref::<js_sys::Error>().map_or_else(|| format!("{e:?}"), |e| String::from(e.message())))?;
    ThreadPoolBuilder::new()
        .num_threads(workers)
        .spawn_handler(move |thread| {
            send.send(thread).map_err(|_| std::io::Error::other("the workers stopped waiting for their thread"))
        })
        .build_global()
        .map_err(|e| format!("rayon's pool: {e}"))
}

/// A worker's life as one of the pool's threads: waits for its [`ThreadBuilder`] and runs it (never returns while
/// the pool lives). Called by threads.js only.
#[wasm_bindgen(js_name = webclipThreadLoop)]
pub fn thread_loop() {
    let builder = match BUILDERS.lock() {
        Ok(queue) => queue.as_ref().and_then(|q| q.recv().ok()),
        Err(_) => None,
    };
    if let Some(builder) = builder {
        builder.run();
    }
}
