//! The measurement harness of OANIX's benchmarks.
//!
//! Every performance claim in OANIX is a ratio against a named peer measured
//! in the same run. Benchmarks are `harness = false` bench targets (run by
//! `cargo xtask bench`) that use this crate to time each operation for every
//! subject and print one Markdown table per scenario, with the ratio of the
//! first subject (OANIX) to each of the others.
//!
//! - [`measure`] times a fast operation in batches and reports the median
//!   and the 99th percentile of the per-operation time over the batches.
//! - [`measure_each`] times every call on its own, for latency
//!   distributions of slower operations (network round trips).
//! - [`Table`] collects the results and prints them.
//! - [`Counting`] is a global allocator counting live heap bytes
//!   ([`live_bytes`]), for memory per object.
//!
//! Set `OANIX_BENCH_QUICK=1` to take fewer, shorter samples (a smoke run).
//!
//! ```
//! use oanix_bench::{Table, measure};
//!
//! let mut table = Table::new("sum of 1 000 numbers", &["iterator", "loop"]);
//! let v: Vec<u64> = (0..1000).collect();
//! let a = measure(|_| { std::hint::black_box(v.iter().sum::<u64>()); });
//! let b = measure(|_| {
//!     let mut s = 0;
//!     for x in &v { s += x; }
//!     std::hint::black_box(s);
//! });
//! table.row("sum", vec![Some(a), Some(b)]);
//! let text = table.to_markdown();
//! assert!(text.contains("| sum |"));
//! ```

#![allow(
    clippy::print_stdout,
    reason = "printing the tables is this crate's job"
)]

mod counting;

pub use counting::{Counting, live_bytes};

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Timing of one operation: per-operation times in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// The median.
    pub median_ns: f64,
    /// The 99th percentile.
    pub p99_ns: f64,
    /// How many operations were timed in all.
    pub ops: u64,
}

impl Stats {
    /// Operations per second, from the median.
    pub fn per_second(&self) -> f64 {
        if self.median_ns > 0.0 {
            1e9 / self.median_ns
        } else {
            f64::INFINITY
        }
    }
}

fn quick() -> bool {
    std::env::var_os("OANIX_BENCH_QUICK").is_some_and(|v| v != "0")
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Times `op` (called with a running index, so that it can create fresh
/// names) in batches sized to about a millisecond, after a warm-up; returns
/// the median and 99th percentile of the per-operation time over 50 batches.
pub fn measure(mut op: impl FnMut(u64)) -> Stats {
    let (samples, sample_time) = if quick() {
        (10, Duration::from_micros(200))
    } else {
        (50, Duration::from_millis(1))
    };
    let mut i = 0u64;
    // Warm up and calibrate the batch size.
    let mut batch = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..batch {
            op(i);
            i += 1;
        }
        let took = start.elapsed();
        if took >= sample_time || batch >= 1 << 24 {
            break;
        }
        batch *= 2;
    }
    let mut per_op = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        for _ in 0..batch {
            op(i);
            i += 1;
        }
        per_op.push(start.elapsed().as_nanos() as f64 / batch as f64);
    }
    per_op.sort_by(f64::total_cmp);
    Stats {
        median_ns: percentile(&per_op, 0.5),
        p99_ns: percentile(&per_op, 0.99),
        ops: batch * samples as u64,
    }
}

/// Times each of `n` calls of `op` on its own (for slow operations such as
/// round trips), after `n / 10` warm-up calls.
pub fn measure_each(n: usize, mut op: impl FnMut(u64)) -> Stats {
    let n = if quick() { (n / 10).max(10) } else { n.max(1) };
    for i in 0..(n / 10) as u64 {
        op(i);
    }
    let mut times = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let start = Instant::now();
        op(i);
        times.push(start.elapsed().as_nanos() as f64);
    }
    times.sort_by(f64::total_cmp);
    Stats {
        median_ns: percentile(&times, 0.5),
        p99_ns: percentile(&times, 0.99),
        ops: n as u64,
    }
}

/// Formats nanoseconds with a unit that keeps 3 significant digits.
pub fn format_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A side-by-side table: one row per operation, one column per subject,
/// then the ratio of the first subject to each of the others.
#[derive(Debug, Clone)]
pub struct Table {
    title: String,
    subjects: Vec<String>,
    rows: Vec<(String, Vec<Option<Stats>>)>,
    notes: Vec<String>,
}

impl Table {
    /// A table titled `title` comparing `subjects` (OANIX first).
    pub fn new(title: &str, subjects: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a row; `None` where a subject cannot do the operation.
    pub fn row(&mut self, op: &str, cells: Vec<Option<Stats>>) {
        self.rows.push((op.to_owned(), cells));
    }

    /// Adds a line printed under the table.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// The median of `subject` for `op`, if measured.
    pub fn get(&self, op: &str, subject: usize) -> Option<Stats> {
        self.rows
            .iter()
            .find(|(name, _)| name == op)
            .and_then(|(_, cells)| cells.get(subject).copied().flatten())
    }

    /// The table as Markdown: medians (p99 in parentheses) and ratios.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "### {}\n", self.title);
        let mut header = String::from("| operation |");
        let mut rule = String::from("|---|");
        for s in &self.subjects {
            let _ = write!(header, " {s} |");
            rule.push_str("---:|");
        }
        let first = self.subjects.first().cloned().unwrap_or_default();
        for s in self.subjects.iter().skip(1) {
            let _ = write!(header, " {first} / {s} |");
            rule.push_str("---:|");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        for (op, cells) in &self.rows {
            let mut line = format!("| {op} |");
            for c in cells {
                match c {
                    Some(s) => {
                        let _ = write!(
                            line,
                            " {} ({}) |",
                            format_ns(s.median_ns),
                            format_ns(s.p99_ns)
                        );
                    }
                    None => line.push_str(" — |"),
                }
            }
            let base = cells.first().copied().flatten();
            for c in cells.iter().skip(1) {
                match (base, c) {
                    (Some(b), Some(p)) if p.median_ns > 0.0 => {
                        let _ = write!(line, " {:.2}× |", b.median_ns / p.median_ns);
                    }
                    _ => line.push_str(" — |"),
                }
            }
            let _ = writeln!(out, "{line}");
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                let _ = writeln!(out, "{n}");
            }
        }
        out
    }

    /// Prints the table to standard output.
    pub fn print(&self) {
        println!("{}", self.to_markdown());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_columns_compare_the_first_subject() {
        let mut t = Table::new("t", &["ours", "peer"]);
        let s = |ns| Stats {
            median_ns: ns,
            p99_ns: ns,
            ops: 1,
        };
        t.row("op", vec![Some(s(50.0)), Some(s(200.0))]);
        t.row("other", vec![Some(s(10.0)), None]);
        let md = t.to_markdown();
        assert!(md.contains("| ours / peer |"), "{md}");
        assert!(
            md.contains("| op | 50 ns (50 ns) | 200 ns (200 ns) | 0.25× |"),
            "{md}"
        );
        assert!(md.contains("| other | 10 ns (10 ns) | — | — |"), "{md}");
    }

    #[test]
    fn formats_units() {
        assert_eq!(format_ns(12.0), "12 ns");
        assert_eq!(format_ns(1_500.0), "1.50 µs");
        assert_eq!(format_ns(2_500_000.0), "2.50 ms");
    }

    #[test]
    fn measure_each_counts_calls() {
        let mut calls = 0;
        let s = measure_each(20, |_| calls += 1);
        assert_eq!(s.ops, if quick() { 10 } else { 20 });
        assert!(calls >= 20);
    }
}
