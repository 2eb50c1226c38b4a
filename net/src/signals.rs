//! Opt-in process signals for servers: SIGTERM and SIGINT stop every registered
//! server together (each drains as its `ServerHandle::stop` does) within one deadline,
//! and SIGHUP runs a reload callback (new certificates, say). What every example used
//! to write with signal-hook, once.
//!
//! Signals are received on a thread of their own (signal-hook's self-pipe: no work in
//! the signal handler itself), never on a loop. Nothing is installed unless
//! [`Signals::install`] is called.
//!
//! ```no_run
//! use std::time::Duration;
//! let server = net::TcpServer::builder("127.0.0.1:7000")
//!     .on_message(|conn, input| {
//!         conn.send_buffer(input);
//!     })
//!     .build()?
//!     .start()?;
//! let watch = net::signals::Signals::new()
//!     .stop(server.clone())
//!     .deadline(Duration::from_secs(10))
//!     .on_reload(|| log::info!("SIGHUP: reloading"))
//!     .install()?;
//! let stopped = watch.wait(); // until SIGTERM or SIGINT, then every server drained
//! std::process::exit(if stopped.in_time { 0 } else { 1 });
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::server::tcp_server::ServerHandle;

/// Which servers a stop signal stops, within which deadline, and what SIGHUP does.
pub struct Signals {
    servers: Vec<ServerHandle>,
    deadline: Duration,
    reload: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}

impl Signals {
    /// No server yet, a 30 s deadline, no reload (SIGHUP then keeps its default
    /// action: terminate).
    pub fn new() -> Self {
        Signals {
            servers: Vec::new(),
            deadline: Duration::from_secs(30),
            reload: None,
        }
    }

    /// Stops `server` on SIGTERM/SIGINT (all registered servers stop together).
    pub fn stop(mut self, server: ServerHandle) -> Self {
        self.servers.push(server);
        self
    }

    /// How long all the servers together may take to stop (default 30 s). A server
    /// still stopping then is reported late ([`Stopped::in_time`] is `false`); its own
    /// stop timeout still force-closes what is left.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Runs `reload` on each SIGHUP, on the signal thread (a panic in it is logged
    /// and the next SIGHUP runs it again).
    pub fn on_reload(mut self, reload: impl Fn() + Send + Sync + 'static) -> Self {
        self.reload = Some(Arc::new(reload));
        self
    }

    /// Installs the handlers and starts the signal thread (`muon-signals`).
    pub fn install(self) -> io::Result<SignalWatch> {
        let mut wanted = vec![SIGTERM, SIGINT];
        if self.reload.is_some() {
            wanted.push(SIGHUP);
        }
        let mut signals = signal_hook::iterator::Signals::new(&wanted)?;
        let closer = signals.handle();
        let (tx, rx) = crossbeam_channel::bounded::<String>(4);
        let to_stop = tx.clone();
        let reload = self.reload;
        std::thread::Builder::new()
            .name("muon-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    match signal {
                        SIGHUP => {
                            if let Some(reload) = &reload {
                                log::info!("SIGHUP: reloading");
                                if catch_unwind(AssertUnwindSafe(|| reload())).is_err() {
                                    log::error!("the SIGHUP reload callback panicked");
                                }
                            }
                        }
                        other => {
                            let name = if other == SIGTERM {
                                "SIGTERM"
                            } else {
                                "SIGINT"
                            };
                            let _ = to_stop.try_send(name.to_string());
                        }
                    }
                }
            })?;
        Ok(SignalWatch {
            servers: self.servers,
            deadline: self.deadline,
            tx,
            rx,
            closer,
        })
    }
}

/// The installed handlers: [`SignalWatch::wait`] for a stop signal (or a request).
pub struct SignalWatch {
    servers: Vec<ServerHandle>,
    deadline: Duration,
    tx: Sender<String>,
    rx: Receiver<String>,
    closer: signal_hook::iterator::Handle,
}

/// Asks a [`SignalWatch`] to stop as a signal would (e.g. when a successor process
/// took the listeners over). `Clone + Send`.
#[derive(Clone)]
pub struct StopRequest(Sender<String>);

impl StopRequest {
    /// Stops the watched servers as SIGTERM would; `why` is logged.
    pub fn request(&self, why: &str) {
        let _ = self.0.try_send(why.to_string());
    }
}

/// How a [`SignalWatch::wait`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// What started the stop: "SIGTERM", "SIGINT", or a [`StopRequest`]'s reason.
    pub why: String,
    /// Every server stopped within the deadline.
    pub in_time: bool,
}

impl SignalWatch {
    /// A handle that starts the same stop from elsewhere.
    pub fn requester(&self) -> StopRequest {
        StopRequest(self.tx.clone())
    }

    /// Blocks until SIGTERM, SIGINT or a [`StopRequest`]; then stops every server at
    /// once (each on a thread of its own, so their drains overlap) and waits for all of
    /// them until the deadline. The signal handlers are removed before it returns.
    pub fn wait(self) -> Stopped {
        let why = self
            .rx
            .recv()
            .unwrap_or_else(|_| "the signal thread ended".into());
        log::info!("{why}: draining {} server(s)", self.servers.len());
        let deadline = Instant::now() + self.deadline;
        let (done_tx, done) = crossbeam_channel::unbounded();
        let count = self.servers.len();
        for server in self.servers {
            let done_tx = done_tx.clone();
            let spawned = std::thread::Builder::new()
                .name("muon-stop".into())
                .spawn(move || {
                    let _ = done_tx.send(server.stop());
                });
            if let Err(e) = spawned {
                log::error!("cannot start a stop thread: {e}");
            }
        }
        drop(done_tx);
        let mut in_time = true;
        for _ in 0..count {
            match done.recv_deadline(deadline) {
                Ok(stopped) => in_time &= stopped,
                Err(_) => {
                    in_time = false;
                    break;
                }
            }
        }
        if in_time {
            log::info!("{why}: every server stopped");
        } else {
            log::warn!("{why}: not every server stopped within {:?}", self.deadline);
        }
        self.closer.close();
        Stopped { why, in_time }
    }
}
