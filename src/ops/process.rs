//! The `process_*` series that Prometheus client libraries export by convention (CPU time,
//! memory, descriptors, start time), read from `/proc/self` at each scrape.
//!
//! Read here rather than through a crate: it is one line of `/proc/self/stat`, one directory
//! listing and two `sysconf` values, where the maintained crates for it (`procfs`,
//! `metrics-process`) bring a dozen dependencies for the same six numbers. Only what the
//! service's sandbox lets it read is used: `ProcSubset=pid` hides `/proc/stat` (and its boot
//! time), so the start time comes from `CLOCK_BOOTTIME` instead.
//!
//! Rendered as text of our own and appended to the recorder's: the CPU time is fractional
//! seconds, which the recorder's integer counters cannot hold, and it must be typed
//! `counter` for `rate()`.

use std::fmt::Write;

/// What `/proc/self/stat` says, in its own units.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stat {
    /// Clock ticks in user and kernel mode.
    utime: u64,
    stime: u64,
    threads: u64,
    /// Clock ticks after boot at which the process started.
    start_ticks: u64,
    virtual_bytes: u64,
    resident_pages: u64,
}

/// Parses one `/proc/PID/stat` line. The command name, in parentheses, may hold spaces and
/// parentheses of its own, so fields are counted from the last `)`.
fn parse_stat(line: &str) -> Option<Stat> {
    let after_name = &line[line.rfind(')')? + 1..];
    // Field 3 (state) is the first after the name; the man page numbers fields from 1.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |number: usize| -> Option<u64> { fields.get(number.checked_sub(3)?)?.parse().ok() };
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        threads: field(20)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
        resident_pages: field(24)?,
    })
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf reads a constant of the system; it has no pointer arguments.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value).ok().filter(|v| *v > 0)
}

/// Seconds on `clock`.
fn clock_seconds(clock: libc::clockid_t) -> Option<f64> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into the struct it is given.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return None;
    }
    Some(now.tv_sec as f64 + now.tv_nsec as f64 / 1e9)
}

/// The process's figures, as the `process_*` series give them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub threads: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// Reads what the system lets it; a figure it cannot read is left out of the scrape
    /// rather than reported as 0.
    pub fn read() -> ProcessStats {
        let ticks = sysconf(libc::_SC_CLK_TCK);
        let page = sysconf(libc::_SC_PAGESIZE);
        let stat = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|line| parse_stat(&line));
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64);
        // The wall clock at boot: now, less the time since boot (suspend included, as the
        // kernel counts a process's start).
        let booted = clock_seconds(libc::CLOCK_REALTIME)
            .zip(clock_seconds(libc::CLOCK_BOOTTIME))
            .map(|(wall, since_boot)| wall - since_boot);
        let Some(stat) = stat else {
            return ProcessStats {
                open_fds,
                max_fds: super::limits::descriptor_limit(),
                ..ProcessStats::default()
            };
        };
        ProcessStats {
            cpu_seconds: ticks.map(|t| (stat.utime + stat.stime) as f64 / t as f64),
            resident_memory_bytes: page.map(|p| stat.resident_pages.saturating_mul(p)),
            virtual_memory_bytes: Some(stat.virtual_bytes),
            threads: Some(stat.threads),
            open_fds,
            max_fds: super::limits::descriptor_limit(),
            start_time_seconds: ticks
                .zip(booted)
                .map(|(t, booted)| booted + stat.start_ticks as f64 / t as f64),
        }
    }

    /// Appends the series in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let mut family = |name: &str, kind: &str, help: &str, value: Option<f64>| {
            if let Some(value) = value {
                let _ = write!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
                );
            }
        };
        let whole = |n: Option<u64>| n.map(|n| n as f64);
        family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            self.cpu_seconds,
        );
        family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            whole(self.resident_memory_bytes),
        );
        family(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            whole(self.virtual_memory_bytes),
        );
        family(
            "process_threads",
            "gauge",
            "Number of OS threads in the process.",
            whole(self.threads),
        );
        family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            whole(self.open_fds),
        );
        family(
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors (the soft limit).",
            whole(self.max_fds),
        );
        family(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            self.start_time_seconds,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "4242 (watch floor) (x)) S 1 4242 4242 0 -1 4194560 9093 0 0 0 \
        150 25 0 0 20 0 7 0 123456 1048576000 5120 18446744073709551615 1 1 0 0 0 0 0 4096 \
        17664 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn the_stat_line_is_read_from_the_last_parenthesis() {
        let stat = parse_stat(LINE).expect("parses");
        assert_eq!(
            stat,
            Stat {
                utime: 150,
                stime: 25,
                threads: 7,
                start_ticks: 123456,
                virtual_bytes: 1_048_576_000,
                resident_pages: 5120,
            }
        );
    }

    #[test]
    fn a_stat_line_cut_short_or_garbled_gives_nothing() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("4242 (no closing parenthesis S 1 2 3"), None);
        let cut = &LINE[..LINE.find("123456").expect("start field")];
        assert_eq!(parse_stat(cut), None);
        assert_eq!(parse_stat(&LINE.replace(" 150 ", " -150 ")), None);
        // A command name of a thousand parentheses costs one scan.
        let odd = format!(
            "1 ({}) {}",
            ")(".repeat(1000),
            &LINE[LINE.find(" S ").unwrap()..]
        );
        assert!(parse_stat(&odd).is_some());
    }

    #[test]
    fn this_process_reads_as_itself() {
        let stats = ProcessStats::read();
        let resident = stats.resident_memory_bytes.expect("resident memory");
        assert!(resident > 1 << 20, "{resident}");
        assert!(stats.virtual_memory_bytes.expect("virtual") >= resident);
        assert!(stats.threads.expect("threads") >= 1);
        assert!(stats.open_fds.expect("descriptors") >= 3);
        assert!(stats.max_fds.expect("limit") >= stats.open_fds.unwrap());
        let started = stats.start_time_seconds.expect("start time");
        let now = chrono::Utc::now().timestamp() as f64;
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "started {started}, now {now}"
        );
        assert!(stats.cpu_seconds.expect("cpu") >= 0.0);
    }

    #[test]
    fn the_series_are_valid_prometheus_text_and_unknown_figures_are_left_out() {
        let mut text = String::new();
        ProcessStats {
            cpu_seconds: Some(1.75),
            open_fds: Some(12),
            max_fds: Some(u64::MAX),
            ..ProcessStats::default()
        }
        .render(&mut text);
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("valid");
        let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "process_cpu_seconds_total",
                "process_open_fds",
                "process_max_fds"
            ]
        );
        assert!(matches!(
            scrape.samples[0].value,
            prometheus_parse::Value::Counter(v) if v == 1.75
        ));
    }
}
