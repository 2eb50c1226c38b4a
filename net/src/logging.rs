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
            let thread = std::thread::current();
            out.finish(format_args!(
                "{} {:<5} [{}] {}: {}",
                timestamp(),
                record.level(),
                thread.name().unwrap_or("?"),
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
