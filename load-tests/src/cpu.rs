//! CPU time from Linux's `/proc`: how much work a phase cost, counting every process (hub,
//! Postgres, load generator, kernel), and which of them spent it. On a loaded host the
//! throughput of one phase drifts with everything else running; CPU time per submission drifts
//! much less, so it says more clearly whether a change made the work cheaper.
//!
//! A phase's time is split four ways: this process (the hub or the baseline server and the load
//! generator's members: they share one process and runtime), the Postgres server (every process
//! named `postgres`, which includes backends that ended during the phase: their time is in the
//! postmaster's count of its children's), the rest of the busy time (the kernel's own threads,
//! anything else running), and idle time (no process had work for a core).

use std::collections::HashMap;
use std::ops::Sub;

/// USER_HZ: the unit of every CPU time in `/proc`, which Linux fixes at 100 on every
/// architecture it supports.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds so far, or spent between two readings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuTimes {
    /// Busy time of the whole machine: user, nice, system, irq, softirq and steal.
    pub(crate) busy: f64,
    /// Idle and iowait time of the whole machine.
    pub(crate) idle: f64,
    /// This process's user and system time.
    pub(crate) this_process: f64,
    /// The Postgres server's processes; `None` when none is visible (a server on another host).
    pub(crate) postgres: Option<f64>,
}

impl CpuTimes {
    /// The times now; `None` where `/proc` is not readable (not Linux).
    pub(crate) fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let (busy, idle) = machine_of(stat.lines().next()?)?;
        let this_process = process_of(&std::fs::read_to_string("/proc/self/stat").ok()?)?.own;
        Some(Self {
            busy,
            idle,
            this_process,
            postgres: postgres_seconds(),
        })
    }

    /// The times spent since `before`.
    pub(crate) fn since(before: Option<Self>) -> Option<Self> {
        Some(Self::now()? - before?)
    }

    /// Adds another phase's times (rounds of the same phase).
    pub(crate) fn add(self, other: Self) -> Self {
        Self {
            busy: self.busy + other.busy,
            idle: self.idle + other.idle,
            this_process: self.this_process + other.this_process,
            postgres: self.postgres.zip(other.postgres).map(|(a, b)| a + b),
        }
    }

    /// Milliseconds of busy machine time per submission; `None` without submissions.
    pub(crate) fn busy_ms_per(&self, submissions: usize) -> Option<f64> {
        (submissions > 0).then(|| ms_per(self.busy, submissions))
    }

    /// Milliseconds per submission of each part: `this_process`, `postgres`, `rest` (busy time
    /// of neither) and `idle`; `None` without submissions.
    pub(crate) fn split_ms_per(&self, submissions: usize) -> Option<SplitMs> {
        let per = |seconds: f64| ms_per(seconds, submissions);
        let postgres = self.postgres.unwrap_or(0.0);
        (submissions > 0).then(|| SplitMs {
            this_process: per(self.this_process),
            postgres: self.postgres.map(per),
            rest: per((self.busy - self.this_process - postgres).max(0.0)),
            idle: per(self.idle),
        })
    }
}

/// `seconds` as milliseconds per submission, for a count known to be above zero.
fn ms_per(seconds: f64, submissions: usize) -> f64 {
    seconds * 1000.0 / submissions as f64
}

impl Sub for CpuTimes {
    type Output = Self;

    fn sub(self, before: Self) -> Self {
        Self {
            busy: self.busy - before.busy,
            idle: self.idle - before.idle,
            this_process: self.this_process - before.this_process,
            postgres: self.postgres.zip(before.postgres).map(|(a, b)| a - b),
        }
    }
}

/// A phase's CPU time per submission, by who spent it ([`CpuTimes::split_ms_per`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SplitMs {
    pub(crate) this_process: f64,
    pub(crate) postgres: Option<f64>,
    pub(crate) rest: f64,
    pub(crate) idle: f64,
}

/// Busy and idle seconds in `/proc/stat`'s first line. Busy: user, nice, system, irq, softirq
/// and steal time; idle and iowait are not work.
fn machine_of(line: &str) -> Option<(f64, f64)> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    Some((
        (user + nice + system + irq + softirq + steal) as f64 / TICKS_PER_SECOND,
        (idle + iowait) as f64 / TICKS_PER_SECOND,
    ))
}

/// What one `/proc/PID/stat` says.
#[derive(Debug, PartialEq)]
struct ProcessTimes {
    command: String,
    parent: u32,
    /// Its own user and system seconds.
    own: f64,
    /// The user and system seconds of its children that ended and were waited for.
    children: f64,
}

/// Parses `/proc/PID/stat`. The command name is in parentheses and may hold spaces and
/// parentheses itself, so the fields after it are found from its last `)`.
fn process_of(stat: &str) -> Option<ProcessTimes> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let command = stat.get(open + 1..close)?.to_owned();
    // From field 3 (state) on; utime, stime, cutime and cstime are fields 14–17.
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let field = |n: usize| rest.get(n - 3)?.parse::<u64>().ok();
    let parent = u32::try_from(field(4)?).ok()?;
    Some(ProcessTimes {
        command,
        parent,
        own: (field(14)? + field(15)?) as f64 / TICKS_PER_SECOND,
        children: (field(16)? + field(17)?) as f64 / TICKS_PER_SECOND,
    })
}

/// CPU seconds of every `postgres` process so far: each one's own time, and for the server's
/// parent process (one whose parent is not `postgres`) the time of its ended children too.
fn postgres_seconds() -> Option<f64> {
    let mut processes = HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // A process may end between the listing and the read: it is simply not counted.
        if let Some(times) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .as_deref()
            .and_then(process_of)
        {
            processes.insert(pid, times);
        }
    }
    postgres_total(&processes)
}

/// [`postgres_seconds`] over processes read by pid.
fn postgres_total(processes: &HashMap<u32, ProcessTimes>) -> Option<f64> {
    let is_postgres = |p: &ProcessTimes| p.command == "postgres";
    let mut total = None;
    for process in processes.values().filter(|p| is_postgres(p)) {
        let parent_is_postgres = processes.get(&process.parent).is_some_and(is_postgres);
        let ended_children = if parent_is_postgres {
            0.0
        } else {
            process.children
        };
        *total.get_or_insert(0.0) += process.own + ended_children;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_time_is_split_into_busy_and_idle() {
        // user 100, nice 20, system 30, idle 5000, iowait 70, irq 4, softirq 6, steal 40 ticks.
        let line = "cpu  100 20 30 5000 70 4 6 40 0 0";
        assert_eq!(machine_of(line), Some((2.0, 50.7)));
    }

    #[test]
    fn other_lines_are_not_read_as_totals() {
        assert_eq!(machine_of("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(machine_of("cpu 1 2 x"), None);
    }

    fn stat(pid: u32, command: &str, parent: u32, times: [u64; 4]) -> String {
        let [utime, stime, cutime, cstime] = times;
        format!(
            "{pid} ({command}) S {parent} 1 1 0 -1 4194560 100 0 0 0 {utime} {stime} {cutime} \
             {cstime} 20 0 1 0 100 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1"
        )
    }

    #[test]
    fn a_process_line_is_read_after_its_command_name() {
        let line = stat(42, "tokio rt) (x", 7, [150, 50, 1000, 500]);
        assert_eq!(
            process_of(&line),
            Some(ProcessTimes {
                command: "tokio rt) (x".into(),
                parent: 7,
                own: 2.0,
                children: 15.0,
            })
        );
        assert_eq!(process_of("42 (cut short) S 7 1"), None);
    }

    #[test]
    fn postgres_time_counts_live_backends_and_the_ended_ones_once() {
        let processes: HashMap<u32, ProcessTimes> = [
            // The server, started by init: its own time and its ended backends'.
            (10, stat(10, "postgres", 1, [100, 100, 300, 100])),
            // Two live backends; a backend's own children are none of ours.
            (11, stat(11, "postgres", 10, [50, 50, 0, 0])),
            (12, stat(12, "postgres", 10, [25, 25, 900, 0])),
            // Not Postgres.
            (13, stat(13, "originhub-load", 1, [999, 999, 999, 999])),
        ]
        .into_iter()
        .map(|(pid, line)| (pid, process_of(&line).expect("valid line")))
        .collect();
        assert_eq!(postgres_total(&processes), Some(2.0 + 4.0 + 1.0 + 0.5));
        let none: HashMap<u32, ProcessTimes> = processes
            .into_iter()
            .filter(|(_, p)| p.command != "postgres")
            .collect();
        assert_eq!(postgres_total(&none), None);
    }

    #[test]
    fn the_split_per_submission_keeps_every_part() {
        let spent = CpuTimes {
            busy: 8.0,
            idle: 1.0,
            this_process: 5.0,
            postgres: Some(2.5),
        };
        let split = spent.split_ms_per(1000).expect("submissions");
        assert_eq!(
            (split.this_process, split.postgres, split.rest, split.idle),
            (5.0, Some(2.5), 0.5, 1.0)
        );
        let remote = CpuTimes {
            postgres: None,
            ..spent
        };
        assert_eq!(remote.split_ms_per(1000).map(|s| s.rest), Some(3.0));
        assert_eq!(spent.split_ms_per(0), None);
        assert_eq!(spent.busy_ms_per(1000), Some(8.0));
        assert_eq!(spent.busy_ms_per(0), None);
    }

    #[test]
    fn times_subtract_and_add_field_by_field() {
        let before = CpuTimes {
            busy: 1.0,
            idle: 2.0,
            this_process: 0.5,
            postgres: Some(0.25),
        };
        let after = CpuTimes {
            busy: 4.0,
            idle: 3.0,
            this_process: 2.5,
            postgres: Some(1.25),
        };
        let spent = after - before;
        assert_eq!(
            spent,
            CpuTimes {
                busy: 3.0,
                idle: 1.0,
                this_process: 2.0,
                postgres: Some(1.0),
            }
        );
        assert_eq!(spent.add(spent).busy, 6.0);
        let remote = CpuTimes {
            postgres: None,
            ..spent
        };
        assert_eq!(spent.add(remote).postgres, None);
    }

    #[test]
    fn this_machine_can_be_read() {
        // The harness runs on Linux; where /proc is missing every figure is null instead.
        if std::path::Path::new("/proc/stat").exists() {
            let now = CpuTimes::now().expect("readable /proc");
            assert!(now.busy > 0.0 && now.this_process >= 0.0);
        }
    }
}
