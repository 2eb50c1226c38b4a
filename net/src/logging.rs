//! `init`: a ready-made `log` backend for programs (the library itself only uses `log`).

/// Sends `log` records at `level` and above ("error", "warn", "info", "debug", "trace")
/// to stderr, one line each: time, level, thread name, target, message.
/// `RUST_LOG`, when set, takes precedence over `level`. Calling it twice is harmless.
///
/// ```
/// net::logging::init("info");
/// log::info!("ready");
/// ```
pub fn init(level: &str) {
    let level = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_string());
    let filter = level.parse().unwrap_or(log::LevelFilter::Info);
    let result = fern::Dispatch::new()
        .format(|out, message, record| {
            out.finish(format_args!(
                "{} {:<5} [{}] {}: {}",
                timestamp(),
                record.level(),
                thread_label(&std::thread::current()),
                record.target(),
                message
            ))
        })
        .level(filter)
        .chain(std::io::stderr())
        .apply();
    if result.is_err() {
        log::debug!("logging::init: a logger was already set");
    }
}

/// A thread's name, or for an unnamed thread (an application's own) `thread-N` from
/// its id, so that lines from different unnamed threads stay apart.
fn thread_label(thread: &std::thread::Thread) -> String {
    match thread.name() {
        Some(name) => name.to_string(),
        None => {
            let id = format!("{:?}", thread.id());
            let n = id.trim_start_matches("ThreadId(").trim_end_matches(')');
            format!("thread-{n}")
        }
    }
}

/// UTC wall-clock time as `HH:MM:SS.mmm`, without pulling in a date crate.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::thread_label;

    #[test]
    fn unnamed_threads_get_a_numbered_label_and_named_ones_keep_their_name() {
        let unnamed = std::thread::spawn(|| thread_label(&std::thread::current()));
        let label = unnamed.join().unwrap();
        let n = label.strip_prefix("thread-").expect(&label);
        assert!(n.parse::<u64>().is_ok(), "{label}");
        let named = std::thread::Builder::new()
            .name("publisher".into())
            .spawn(|| thread_label(&std::thread::current()))
            .unwrap();
        assert_eq!(named.join().unwrap(), "publisher");
    }
}
