//! CPU time of the calling thread, from the kernel's scheduler statistics: nanoseconds, where
//! `getrusage` and `/proc/self/stat` count in ticks.

use std::time::Duration;

/// Time the calling thread spent on a CPU so far.
pub fn thread_time() -> std::io::Result<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| std::io::Error::other(format!("schedstat: unexpected {text:?}")))?;
    Ok(Duration::from_nanos(ns))
}

/// Time all threads of this process spent on a CPU so far, ended threads included, from
/// `/proc/self/stat` (user and system time, in the kernel's fixed 100 Hz `USER_HZ` ticks).
pub fn process_time() -> std::io::Result<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| std::io::Error::other("/proc/self/stat: no command name"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |at: usize| -> std::io::Result<u64> {
        fields
            .get(at)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| std::io::Error::other("/proc/self/stat: no CPU times"))
    };
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}
