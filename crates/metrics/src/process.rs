//! The process's own resources, under the names Prometheus's client libraries give them
//! (so stock dashboards and alerts work): memory, CPU time and open files, read at each
//! scrape. Memory is what an operator watches for a runaway request or a leak.

use prometheus::{Counter, IntGauge, Registry};

use crate::families::registered;

pub(crate) struct ProcessFamilies {
    resident: IntGauge,
    cpu: Counter,
    open_fds: IntGauge,
}

impl ProcessFamilies {
    pub(crate) fn new(registry: &Registry) -> Self {
        Self {
            resident: registered(
                registry,
                IntGauge::new(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                ),
            ),
            cpu: registered(
                registry,
                Counter::new(
                    "process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.",
                ),
            ),
            open_fds: registered(
                registry,
                IntGauge::new("process_open_fds", "Number of open file descriptors."),
            ),
        }
    }

    /// Brings the values up to date; what cannot be read (not Linux) stays as it was.
    pub(crate) fn sample(&self) {
        if let Some(bytes) = resident_bytes() {
            self.resident.set(bytes);
        }
        if let Ok(usage) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        {
            let seconds = |time: nix::sys::time::TimeVal| {
                time.tv_sec() as f64 + f64::from(i32::try_from(time.tv_usec()).unwrap_or(0)) / 1e6
            };
            let total = seconds(usage.user_time()) + seconds(usage.system_time());
            // A counter only grows: add what was used since the last scrape.
            let since = total - self.cpu.get();
            if since > 0.0 {
                self.cpu.inc_by(since);
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds
                .set(i64::try_from(fds.count()).unwrap_or(i64::MAX));
        }
    }
}

/// `VmRSS` of /proc/self/status, in bytes.
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kilobytes: i64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}
