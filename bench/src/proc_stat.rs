//! Server CPU time and RSS read from `/proc`.

use std::io;

/// CPU time (user + system) of process `pid` in seconds, from `/proc/PID/stat`
/// (fields 14 and 15, in clock ticks).
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; fields after it start at ')'.
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime field 15.
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no field {n} in /proc/PID/stat")))
    };
    let ticks = field(14)? + field(15)?;
    Ok(ticks as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Resident set size of process `pid` in bytes (`VmRSS` in `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))
}

/// CPU time of process `pid` in seconds with nanosecond resolution: the sum over its
/// threads of `/proc/PID/task/TID/schedstat`'s first field (time on a CPU, ns). Clock
/// ticks (10 ms) are too coarse for a short window of a server that is busy a fraction
/// of it. Falls back to [`cpu_seconds`] where schedstat is missing. Threads that ended
/// before the call are not counted (the benchmark servers keep theirs).
pub fn cpu_seconds_fine(pid: u32) -> io::Result<f64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return cpu_seconds(pid);
    };
    let mut ns = 0u64;
    for task in tasks {
        let path = task?.path().join("schedstat");
        let Some(first) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        else {
            return cpu_seconds(pid);
        };
        ns += first;
    }
    Ok(ns as f64 / 1e9)
}
