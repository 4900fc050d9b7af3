//! What the numbers were measured on, and appending a run to BENCHMARKS.md.

use std::io::Write;
use std::path::Path;

use crate::BenchError;

/// `2 cores, 23.5 GiB, AMD EPYC ..., Linux 6.1.0`.
pub fn describe() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    describe_from(cores, &meminfo, &cpuinfo, kernel.trim())
}

pub fn describe_from(cores: usize, meminfo: &str, cpuinfo: &str, kernel: &str) -> String {
    let field = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let mem = field(meminfo, "MemTotal")
        .and_then(|v| {
            v.split_whitespace()
                .next()
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "? GiB".into());
    let cpu = field(cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into());
    format!("nproc {cores}, {mem} memory, {cpu}, Linux {kernel}")
}

/// `2025-01-31 14:05 UTC`.
pub fn now_utc() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()
}

const HEADER: &str = "# Benchmarks

Appended by `keelson bench api`; each section records the exact command, date and machine.

Method: the bench starts the control plane as a child process (`keelson control-plane`) on an
empty temp data dir and a free loopback port, reads the admin kubeconfig it writes, and drives it
over HTTPS/HTTP2 as a real client does (rustls, the cluster CA as the only root, the admin client
certificate; one connection per 16 clients). Each client sends sequential requests for a fixed
time; every request's latency is recorded and p50/p99 are nearest-rank percentiles over all
requests of a phase, ops/s is requests over the phase's wall time (medians over `--repeats`).
Objects are ~1 KB ConfigMaps in a dedicated namespace. Watch delivery latency is measured per
event per watcher, from the writer's send to the frame's arrival at the watcher (one clock: same
process). The raw store figure opens the same backend directly in the bench process and does
creates at the same concurrency, so API/raw shows the API server's overhead measured under the
same noise. The bench and the server share the machine's cores, so client CPU is in the numbers.

";

pub fn append(path: &Path, section: &str) -> Result<(), BenchError> {
    let new = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(BenchError::io(format!("opening {}", path.display())))?;
    let mut text = String::new();
    if new {
        text.push_str(HEADER);
    }
    text.push_str(section);
    file.write_all(text.as_bytes())
        .map_err(BenchError::io(format!("writing {}", path.display())))
}

/// The section for one run of `keelson bench <name>`: heading, command line, machine, tables.
pub fn section(name: &str, date: &str, command_line: &str, machine: &str, tables: &str) -> String {
    format!(
        "## `keelson bench {name}`, {date}\n\n```\n{command_line}\n```\n\nMachine: {machine}\n\n{tables}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_line() {
        let mem = "MemTotal:       24567890 kB\nMemFree: 1 kB\n";
        let cpu = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(
            describe_from(2, mem, cpu, "6.1.0-1"),
            "nproc 2, 23.4 GiB memory, AMD EPYC 7B13, Linux 6.1.0-1"
        );
        assert!(describe_from(1, "", "", "x").contains("unknown CPU"));
    }

    #[test]
    fn append_creates_then_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BENCHMARKS.md");
        append(
            &path,
            &section("api", "d1", "keelson bench api", "m", "| t |"),
        )
        .unwrap();
        append(
            &path,
            &section("api", "d2", "keelson bench api --clients 1", "m", "| u |"),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("# Benchmarks").count(), 1);
        assert!(text.find("d1").unwrap() < text.find("d2").unwrap());
        assert!(text.contains("```\nkeelson bench api --clients 1\n```"));
    }
}
