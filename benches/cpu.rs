//! CPU time this process has used (user + system, every thread), read from
//! /proc/self/stat. The benchmarks divide it by the requests of a run: on a
//! shared machine the CPU a request costs is steadier than the rate, which
//! falls whenever another tenant takes a core.

use std::time::Duration;

/// The process's CPU time so far; `None` where /proc is not readable.
pub fn used() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; `rest` starts at field 3.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports them in USER_HZ, which is 100 on every architecture it exports to user space.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU milliseconds per operation between two readings.
pub fn per_op(start: Option<Duration>, end: Option<Duration>, ops: u64) -> Option<f64> {
    let spent = end?.checked_sub(start?)?;
    (ops > 0).then(|| spent.as_secs_f64() * 1000.0 / ops as f64)
}
