//! Peak against peak (`--sweep`): each side's rate at every concurrency of a list, measured in
//! the same run, and each side at the concurrency it does best.
//!
//! The main measurement compares the hub and the baseline at one concurrency. A batching server
//! and a one-insert-per-request server do not peak at the same one: the hub's batches grow with
//! the requests in flight, while the baseline's connections contend. The sweep shows both
//! curves, with the latency each rate came at, so a reader can see what the fixed-concurrency
//! ratio leaves out, and which way.

use serde_json::{Value, json};

/// Both sides' figures at one concurrency, pooled over the sweep's rounds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Level {
    pub(crate) concurrency: usize,
    pub(crate) baseline_per_s: f64,
    pub(crate) hub_per_s: f64,
    pub(crate) baseline_submit_p99_ms: f64,
    pub(crate) hub_submit_p99_ms: f64,
    pub(crate) delivery_p99_ms: f64,
    /// The hub's submissions accepted but never delivered.
    pub(crate) lost: usize,
}

/// The level where `rate` is highest (the first of equals), and that rate; `None` for an empty
/// list.
fn best(levels: &[Level], rate: fn(&Level) -> f64) -> Option<(usize, f64)> {
    levels
        .iter()
        .map(|l| (l.concurrency, rate(l)))
        .reduce(|best, l| if l.1 > best.1 { l } else { best })
}

/// What a sweep measured, as the `sweep` object of the JSON output.
#[derive(Debug, Default)]
pub(crate) struct Sweep {
    pub(crate) levels: Vec<Level>,
}

impl Sweep {
    /// Accepted-but-undelivered submissions over the whole sweep.
    pub(crate) fn lost(&self) -> usize {
        self.levels.iter().map(|l| l.lost).sum()
    }

    pub(crate) fn to_json(&self, round: fn(f64) -> f64) -> Value {
        let base = best(&self.levels, |l| l.baseline_per_s);
        let hub = best(&self.levels, |l| l.hub_per_s);
        let rows: Vec<Value> = self
            .levels
            .iter()
            .map(|l| {
                json!({
                    "concurrency": l.concurrency,
                    "baseline_submits_per_s": round(l.baseline_per_s),
                    "hub_submits_per_s": round(l.hub_per_s),
                    "ratio": round(l.hub_per_s / l.baseline_per_s.max(f64::MIN_POSITIVE)),
                    "baseline_submit_p99_ms": round(l.baseline_submit_p99_ms),
                    "hub_submit_p99_ms": round(l.hub_submit_p99_ms),
                    "delivery_p99_ms": round(l.delivery_p99_ms),
                    "lost": l.lost,
                })
            })
            .collect();
        json!({
            "by_concurrency": rows,
            "baseline_peak_per_s": base.map(|(_, rate)| round(rate)),
            "baseline_peak_concurrency": base.map(|(c, _)| c),
            "hub_peak_per_s": hub.map(|(_, rate)| round(rate)),
            "hub_peak_concurrency": hub.map(|(c, _)| c),
            "peak_ratio": base
                .zip(hub)
                .map(|((_, b), (_, h))| round(h / b.max(f64::MIN_POSITIVE))),
            "lost": self.lost(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(concurrency: usize, baseline_per_s: f64, hub_per_s: f64, lost: usize) -> Level {
        Level {
            concurrency,
            baseline_per_s,
            hub_per_s,
            lost,
            ..Level::default()
        }
    }

    #[test]
    fn each_side_peaks_where_it_does_best_and_the_ratio_compares_the_peaks() {
        let sweep = Sweep {
            levels: vec![
                level(16, 5_000.0, 1_800.0, 0),
                level(32, 6_000.0, 2_600.0, 0),
                Level {
                    hub_submit_p99_ms: 91.234,
                    ..level(128, 4_500.0, 3_600.0, 2)
                },
            ],
        };
        let json = sweep.to_json(|x| (x * 100.0).round() / 100.0);
        assert_eq!(json["baseline_peak_concurrency"], 32);
        assert_eq!(json["baseline_peak_per_s"], 6_000.0);
        assert_eq!(json["hub_peak_concurrency"], 128);
        assert_eq!(json["hub_peak_per_s"], 3_600.0);
        assert_eq!(json["peak_ratio"], 0.6);
        assert_eq!(json["lost"], 2);
        let rows = json["by_concurrency"].as_array().expect("rows");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1]["concurrency"], 32);
        assert_eq!(rows[1]["ratio"], 0.43);
        assert_eq!(rows[2]["lost"], 2);
        assert_eq!(rows[2]["hub_submit_p99_ms"], 91.23);
    }

    #[test]
    fn ties_keep_the_lower_concurrency_and_an_empty_sweep_has_no_peak() {
        let tied = [level(16, 100.0, 7.0, 0), level(64, 100.0, 7.0, 0)];
        assert_eq!(best(&tied, |l| l.baseline_per_s), Some((16, 100.0)));
        assert_eq!(best(&[], |l| l.hub_per_s), None);
        let json = Sweep::default().to_json(|x| x);
        assert_eq!(json["peak_ratio"], Value::Null);
        assert_eq!(json["lost"], 0);
    }
}
