//! Peak against peak (`--sweep`): each side's rate at every concurrency of a list, measured in
//! the same run, and each side at the concurrency it does best.
//!
//! The main measurement compares the hub and the baseline at one concurrency. A batching server
//! and a one-insert-per-request server do not peak at the same one: the hub's batches grow with
//! the requests in flight, while the baseline's connections contend. The sweep shows both
//! curves, so a reader can see what the fixed-concurrency ratio leaves out, and which way.

use serde_json::{Value, json};

/// One side's figures at one concurrency, pooled over the sweep's rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) concurrency: usize,
    pub(crate) per_s: f64,
}

/// The point with the highest rate (the first of equals); `None` for an empty list.
pub(crate) fn best(points: &[Point]) -> Option<Point> {
    points
        .iter()
        .copied()
        .reduce(|best, p| if p.per_s > best.per_s { p } else { best })
}

/// What a sweep measured, as the `sweep` object of the JSON output.
#[derive(Debug, Default)]
pub(crate) struct Sweep {
    pub(crate) baseline: Vec<Point>,
    pub(crate) hub: Vec<Point>,
    /// Per concurrency, the hub's submissions accepted but never delivered.
    pub(crate) lost: Vec<usize>,
}

impl Sweep {
    /// Accepted-but-undelivered submissions over the whole sweep.
    pub(crate) fn lost(&self) -> usize {
        self.lost.iter().sum()
    }

    pub(crate) fn to_json(&self, round: fn(f64) -> f64) -> Value {
        let (base, hub) = (best(&self.baseline), best(&self.hub));
        let rows: Vec<Value> = self
            .baseline
            .iter()
            .zip(&self.hub)
            .zip(&self.lost)
            .map(|((b, h), lost)| {
                json!({
                    "concurrency": b.concurrency,
                    "baseline_submits_per_s": round(b.per_s),
                    "hub_submits_per_s": round(h.per_s),
                    "ratio": round(h.per_s / b.per_s.max(f64::MIN_POSITIVE)),
                    "lost": lost,
                })
            })
            .collect();
        json!({
            "by_concurrency": rows,
            "baseline_peak_per_s": base.map(|p| round(p.per_s)),
            "baseline_peak_concurrency": base.map(|p| p.concurrency),
            "hub_peak_per_s": hub.map(|p| round(p.per_s)),
            "hub_peak_concurrency": hub.map(|p| p.concurrency),
            "peak_ratio": base
                .zip(hub)
                .map(|(b, h)| round(h.per_s / b.per_s.max(f64::MIN_POSITIVE))),
            "lost": self.lost(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(rates: &[(usize, f64)]) -> Vec<Point> {
        rates
            .iter()
            .map(|&(concurrency, per_s)| Point { concurrency, per_s })
            .collect()
    }

    #[test]
    fn each_side_peaks_where_it_does_best_and_the_ratio_compares_the_peaks() {
        let sweep = Sweep {
            baseline: points(&[(16, 5_000.0), (32, 6_000.0), (128, 4_500.0)]),
            hub: points(&[(16, 1_800.0), (32, 2_600.0), (128, 3_600.0)]),
            lost: vec![0, 0, 2],
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
    }

    #[test]
    fn ties_keep_the_lower_concurrency_and_an_empty_sweep_has_no_peak() {
        let tied = points(&[(16, 100.0), (64, 100.0)]);
        assert_eq!(best(&tied).map(|p| p.concurrency), Some(16));
        assert_eq!(best(&[]), None);
        let json = Sweep::default().to_json(|x| x);
        assert_eq!(json["peak_ratio"], Value::Null);
        assert_eq!(json["lost"], 0);
    }
}
