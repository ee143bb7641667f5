//! Machine CPU time, from Linux's `/proc/stat`: how much work a phase cost, whichever process
//! (hub, Postgres, load generator, kernel) did it. On a loaded host the throughput of one phase
//! drifts with everything else running; CPU time per submission drifts much less, so it says
//! more clearly whether a change made the work cheaper.

/// Busy CPU time of the whole machine so far, in seconds; `None` where `/proc/stat` is not
/// readable (not Linux).
pub(crate) fn busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    busy_of(stat.lines().next()?)
}

/// The busy seconds in `/proc/stat`'s first line: user, nice, system, irq, softirq and steal
/// time; idle and iowait are not work.
fn busy_of(line: &str) -> Option<f64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    // USER_HZ, which Linux fixes at 100 for /proc/stat on every architecture it supports.
    Some((user + nice + system + irq + softirq + steal) as f64 / 100.0)
}

/// Busy seconds since a [`busy_seconds`] reading.
pub(crate) fn spent_since(before: Option<f64>) -> Option<f64> {
    Some(busy_seconds()? - before?)
}

/// Milliseconds of machine CPU per submission, from busy seconds spent.
pub(crate) fn ms_per(spent: Option<f64>, submissions: usize) -> Option<f64> {
    let spent = spent?;
    (submissions > 0).then(|| spent * 1000.0 / submissions as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_leaves_out_idle_and_iowait() {
        // user 100, nice 20, system 30, idle 5000, iowait 70, irq 4, softirq 6, steal 40 ticks.
        let line = "cpu  100 20 30 5000 70 4 6 40 0 0";
        assert_eq!(busy_of(line), Some(2.0));
    }

    #[test]
    fn other_lines_are_not_read_as_totals() {
        assert_eq!(busy_of("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(busy_of("cpu 1 2 x"), None);
    }

    #[test]
    fn per_submission_needs_a_reading_and_submissions() {
        assert_eq!(ms_per(Some(2.0), 1000), Some(2.0));
        assert_eq!(ms_per(None, 1000), None);
        assert_eq!(ms_per(Some(2.0), 0), None);
    }
}
