//! `LoopPool`: N worker event loops, each on its own named thread.
//!
//! Ownership: the pool owns the threads; callers get `LoopHandle`s (the acceptor
//! keeps its own round-robin cursor over them). Dropping the pool (or `stop`) quits
//! every loop and joins its thread.

use std::io;
use std::thread::JoinHandle;

use crate::reactor::event_loop::EventLoop;
use crate::reactor::loop_handle::LoopHandle;

/// A pool of worker event loops, each on its own named thread. The pool owns the
/// threads; callers get [`LoopHandle`]s. Dropping the pool (or [`LoopPool::stop`])
/// quits every loop and joins its thread.
pub struct LoopPool {
    handles: Vec<LoopHandle>,
    threads: Vec<JoinHandle<()>>,
}

impl LoopPool {
    /// Starts `threads` loops (at least one) named `{name}-{i}`.
    pub fn start(name: &str, threads: usize) -> io::Result<LoopPool> {
        let mut pool = LoopPool {
            handles: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..threads.max(1) {
            let thread_name = format!("{name}-{i}");
            let event_loop = EventLoop::with_index(thread_name.clone(), i)?;
            pool.handles.push(event_loop.handle());
            let thread = std::thread::Builder::new()
                .name(thread_name.clone())
                .spawn(move || {
                    if let Err(e) = event_loop.run() {
                        log::error!("loop {thread_name} failed: {e}");
                    }
                })?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// A pool without loops (a server whose main loop serves its connections).
    pub fn none() -> LoopPool {
        LoopPool {
            handles: Vec::new(),
            threads: Vec::new(),
        }
    }

    /// Every loop's handle, in index order.
    pub fn loops(&self) -> &[LoopHandle] {
        &self.handles
    }

    /// Quits every loop and joins its thread.
    pub fn stop(&mut self) {
        for h in &self.handles {
            h.quit();
        }
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                log::error!("a worker loop thread panicked");
            }
        }
    }
}

impl Drop for LoopPool {
    fn drop(&mut self) {
        self.stop();
    }
}
