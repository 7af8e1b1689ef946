//! Wall-clock time per CPU op, for `webclip bench --profile`: off (one thread-local check per op) unless
//! [`start`]ed, and native only (wasm32-unknown-unknown has no clock without JS; there it records nothing).
//!
//! Each op of the [`super::Cpu`] backend opens a [`span`] named after itself; the time from the span's creation to
//! its drop is added to that name. Ops run to completion on the calling thread (the matmul's worker threads are
//! joined inside it), so the spans of one pass add up to its wall-clock time, less the model's glue code.

use std::cell::RefCell;

/// Total time and calls of one op name.
#[derive(Clone, Debug, PartialEq)]
pub struct OpTime {
    pub op: &'static str,
    pub seconds: f64,
    pub calls: u64,
}

thread_local! {
    static TIMES: RefCell<Option<Vec<OpTime>>> = const { RefCell::new(None) };
}

/// Starts (or restarts) recording on this thread.
pub fn start() {
    TIMES.with(|t| *t.borrow_mut() = Some(Vec::new()));
}

/// Stops recording and returns what was recorded since [`start`], in the order the ops first ran (empty if never
/// started).
pub fn take() -> Vec<OpTime> {
    TIMES.with(|t| t.borrow_mut().take()).unwrap_or_default()
}

/// Times the op `op` until dropped (nothing when not recording).
pub fn span(op: &'static str) -> Option<Span> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        TIMES.with(|t| t.borrow().is_some()).then(|| Span { op, start: std::time::Instant::now() })
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = op;
        None
    }
}

pub struct Span {
    op: &'static str,
    #[cfg(not(target_arch = "wasm32"))]
    start: std::time::Instant,
}

impl Drop for Span {
    fn drop(&mut self) {
        #[cfg(not(target_arch = "wasm32"))]
        let seconds = self.start.elapsed().as_secs_f64();
        #[cfg(target_arch = "wasm32")]
        let seconds = 0.0;
        TIMES.with(|t| {
            if let Some(times) = t.borrow_mut().as_mut() {
                match times.iter_mut().find(|o| o.op == self.op) {
                    Some(o) => {
                        o.seconds += seconds;
                        o.calls += 1;
                    }
                    None => times.push(OpTime { op: self.op, seconds, calls: 1 }),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_add_up_per_op_only_while_recording() {
        drop(span("ignored"));
        assert!(take().is_empty(), "nothing is recorded before start");
        start();
        for _ in 0..3 {
            let _s = span("matmul");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        drop(span("add"));
        let times = take();
        assert_eq!(times.iter().map(|o| (o.op, o.calls)).collect::<Vec<_>>(), [("matmul", 3), ("add", 1)]);
        assert!(times[0].seconds >= 0.006, "{times:?}");
        assert!(take().is_empty(), "take stops recording");
    }
}
