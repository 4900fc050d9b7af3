//! The report: rows of measurements, the targets judged against them, and markdown
//! rendering. Pure, unit tested.

use std::fmt::Write as _;
use std::time::Duration;

use crate::stats::Summary;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Get,
    Update,
    /// Full list of the list namespace, no limit.
    List {
        objects: usize,
    },
    /// A whole walk with `limit`, following `continue`.
    ListPaged {
        objects: usize,
        limit: usize,
    },
    /// Delivery latency of one event to one watcher.
    Watch {
        watchers: usize,
    },
    /// Pod creates while filling the store for the restart measurement.
    CreatePods {
        pods: usize,
    },
    /// ConfigMap creates while filling the list namespace.
    Populate {
        objects: usize,
    },
}

impl Op {
    fn label(&self) -> String {
        match self {
            Op::Create => "create ConfigMap".into(),
            Op::Get => "get ConfigMap".into(),
            Op::Update => "update ConfigMap (PUT)".into(),
            Op::List { objects } => format!("list {} (full)", count(*objects)),
            Op::ListPaged { objects, limit } => {
                format!("list {} (limit={limit} walk)", count(*objects))
            }
            Op::Watch { watchers } => format!("watch delivery, {} watchers", count(*watchers)),
            Op::CreatePods { pods } => format!("create Pods (filling {})", count(*pods)),
            Op::Populate { objects } => format!("create ConfigMaps (filling {})", count(*objects)),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub target: String,
    pub pass: bool,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub store: String,
    pub op: Op,
    /// Concurrent clients (for watch: writers, always 1).
    pub clients: usize,
    pub summary: Summary,
    /// Extra detail, e.g. "99,800/100,000 delivered".
    pub note: String,
    /// Targets judged on this row (a best-create row can carry throughput and p99 both).
    pub verdicts: Vec<Verdict>,
}

#[derive(Clone, Debug)]
pub struct Ratio {
    pub store: String,
    pub clients: usize,
    pub api_per_sec: f64,
    pub raw_per_sec: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    IdleRss,
    ReadyEmpty,
    ReadyRestart { pods: usize },
    RssAfterRestart { pods: usize },
}

#[derive(Clone, Debug)]
pub struct Scalar {
    pub store: String,
    pub metric: Metric,
    /// Bytes for RSS, seconds for times.
    pub value: f64,
    pub verdict: Option<Verdict>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub ratios: Vec<Ratio>,
    pub scalars: Vec<Scalar>,
    /// Judged targets, in the order (filled by [`Report::judge`]).
    pub targets: Vec<(String, String, String, bool)>,
    pub notes: Vec<String>,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Report {
    /// Judge the targets against the measurements, marking the rows they were judged on.
    /// `max_clients` is the highest concurrency run (the write p99 target is at 256).
    pub fn judge(&mut self, max_clients: usize) {
        self.targets.clear();
        let stores: Vec<String> = dedup(
            self.rows
                .iter()
                .map(|r| r.store.clone())
                .chain(self.scalars.iter().map(|s| s.store.clone())),
        );
        for store in &stores {
            if store == "embedded" {
                self.best(
                    store,
                    Op::Create,
                    ">= 5,000 creates/s",
                    |s| s.ops_per_sec >= 5000.0,
                    |s| format!("{} /s", rate(s.ops_per_sec)),
                );
            }
            let at = if max_clients == 256 {
                String::new()
            } else {
                format!(" (run at {max_clients}, issue: 256)")
            };
            for op in [Op::Create, Op::Update] {
                let target =
                    format!("p99 single-object write <= 20 ms at {max_clients} clients{at}");
                self.mark(
                    store,
                    |r| r.op == op && r.clients == max_clients,
                    &target,
                    |s| s.p99.is_some_and(|p| p <= ms(20)),
                    |s| format!("{} p99 {} ms", op_short(op), millis(s.p99)),
                );
            }
            self.best(
                store,
                Op::Get,
                ">= 30,000 gets/s",
                |s| s.ops_per_sec >= 30000.0,
                |s| format!("{} /s", rate(s.ops_per_sec)),
            );
            self.mark(
                store,
                |r| matches!(r.op, Op::Watch { .. }),
                "watch delivery p99 <= 50 ms",
                |s| s.p99.is_some_and(|p| p <= ms(50)),
                |s| format!("p99 {} ms", millis(s.p99)),
            );
            self.scalar(
                store,
                |m| m == Metric::IdleRss,
                "idle RSS <= 50 MiB",
                |v| v <= 50.0 * MIB,
                |v| format!("{:.1} MiB", v / MIB),
            );
            self.scalar(
                store,
                |m| m == Metric::ReadyEmpty,
                "ready <= 300 ms (empty data dir)",
                |v| v <= 0.3,
                |v| format!("{:.0} ms", v * 1e3),
            );
            self.scalar(
                store,
                |m| matches!(m, Metric::ReadyRestart { .. }),
                "ready <= 3 s after restart with stored pods",
                |v| v <= 3.0,
                |v| format!("{:.2} s", v),
            );
        }
    }

    fn best(
        &mut self,
        store: &str,
        op: Op,
        target: &str,
        pass: impl Fn(&Summary) -> bool,
        show: impl Fn(&Summary) -> String,
    ) {
        let best = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.store == store && r.op == op)
            .max_by(|a, b| a.1.summary.ops_per_sec.total_cmp(&b.1.summary.ops_per_sec))
            .map(|(i, _)| i);
        if let Some(i) = best {
            let row = &mut self.rows[i];
            let ok = pass(&row.summary);
            let measured = format!("{} at {} clients", show(&row.summary), row.clients);
            row.verdicts.push(Verdict {
                target: target.to_string(),
                pass: ok,
            });
            self.targets
                .push((target.to_string(), store.to_string(), measured, ok));
        }
    }

    fn mark(
        &mut self,
        store: &str,
        which: impl Fn(&Row) -> bool,
        target: &str,
        pass: impl Fn(&Summary) -> bool,
        show: impl Fn(&Summary) -> String,
    ) {
        for row in self
            .rows
            .iter_mut()
            .filter(|r| r.store == store && which(r))
        {
            let ok = pass(&row.summary) && row.summary.ops > 0;
            row.verdicts.push(Verdict {
                target: target.to_string(),
                pass: ok,
            });
            self.targets.push((
                target.to_string(),
                store.to_string(),
                show(&row.summary),
                ok,
            ));
        }
    }

    fn scalar(
        &mut self,
        store: &str,
        which: impl Fn(Metric) -> bool,
        target: &str,
        pass: impl Fn(f64) -> bool,
        show: impl Fn(f64) -> String,
    ) {
        for s in self
            .scalars
            .iter_mut()
            .filter(|s| s.store == store && which(s.metric))
        {
            let ok = pass(s.value);
            s.verdict = Some(Verdict {
                target: target.to_string(),
                pass: ok,
            });
            self.targets
                .push((target.to_string(), store.to_string(), show(s.value), ok));
        }
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("| Store | Operation | Clients | Requests | Errors | ops/s | p50 ms | p99 ms | Target | Result |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---|---|\n");
        for r in &self.rows {
            let s = &r.summary;
            let (target, result) = verdict_cells(&r.verdicts);
            let requests = if r.note.is_empty() {
                count(s.ops as usize)
            } else {
                format!("{} ({})", count(s.ops as usize), r.note)
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.store,
                r.op.label(),
                r.clients,
                requests,
                s.errors,
                rate(s.ops_per_sec),
                millis(s.p50),
                millis(s.p99),
                target,
                result
            );
        }
        if !self.ratios.is_empty() {
            out.push_str(
                "\nRaw store write rate vs. creates through the API server (same run):\n\n",
            );
            out.push_str("| Store | Clients | API creates/s | raw store creates/s | API / raw |\n|---|---:|---:|---:|---:|\n");
            for r in &self.ratios {
                let ratio = if r.raw_per_sec > 0.0 {
                    format!("{:.2}", r.api_per_sec / r.raw_per_sec)
                } else {
                    "-".into()
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    r.store,
                    r.clients,
                    rate(r.api_per_sec),
                    rate(r.raw_per_sec),
                    ratio
                );
            }
        }
        if !self.scalars.is_empty() {
            out.push_str(
                "\n| Store | Measurement | Value | Target | Result |\n|---|---|---:|---|---|\n",
            );
            for s in &self.scalars {
                let (label, value) = match s.metric {
                    Metric::IdleRss => (
                        "idle RSS (ready + 2 s idle)".to_string(),
                        format!("{:.1} MiB", s.value / MIB),
                    ),
                    Metric::ReadyEmpty => (
                        "start to ready, empty data dir".to_string(),
                        format!("{:.0} ms", s.value * 1e3),
                    ),
                    Metric::ReadyRestart { pods } => (
                        format!("start to ready after restart, {} pods stored", count(pods)),
                        format!("{:.0} ms", s.value * 1e3),
                    ),
                    Metric::RssAfterRestart { pods } => (
                        format!("RSS after restart, {} pods stored", count(pods)),
                        format!("{:.1} MiB", s.value / MIB),
                    ),
                };
                let (target, result) = verdict_cells(s.verdict.as_slice());
                let _ = writeln!(
                    out,
                    "| {} | {label} | {value} | {target} | {result} |",
                    s.store
                );
            }
        }
        if !self.targets.is_empty() {
            let passed = self.targets.iter().filter(|t| t.3).count();
            let _ = writeln!(out, "\nTargets: {passed} of {} pass.\n", self.targets.len());
            out.push_str("| Target | Store | Measured | Result |\n|---|---|---|---|\n");
            for (target, store, measured, ok) in &self.targets {
                let _ = writeln!(
                    out,
                    "| {target} | {store} | {measured} | {} |",
                    pass_fail(*ok)
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        out
    }
}

fn verdict_cells(v: &[Verdict]) -> (String, String) {
    let targets: Vec<&str> = v.iter().map(|v| v.target.as_str()).collect();
    let results: Vec<&str> = v.iter().map(|v| pass_fail(v.pass)).collect();
    (targets.join("; "), results.join("; "))
}

fn pass_fail(ok: bool) -> &'static str {
    if ok { "pass" } else { "**FAIL**" }
}

fn op_short(op: Op) -> &'static str {
    match op {
        Op::Create => "create",
        Op::Update => "update",
        _ => "op",
    }
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Milliseconds with precision that suits the size: 0.123, 4.56, 78.9, 1234.
pub fn millis(d: Option<Duration>) -> String {
    let Some(d) = d else { return "-".into() };
    let v = d.as_secs_f64() * 1e3;
    if v < 1.0 {
        format!("{v:.3}")
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A rate with thousands separators, one decimal below 100.
pub fn rate(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        count(v.round() as usize)
    }
}

/// 150000 → "150,000".
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(store: &str, op: Op, clients: usize, ops_per_sec: f64, p99_ms: u64) -> Row {
        Row {
            store: store.into(),
            op,
            clients,
            summary: Summary {
                ops: 100,
                errors: 0,
                ops_per_sec,
                p50: Some(ms(1)),
                p99: Some(ms(p99_ms)),
            },
            note: String::new(),
            verdicts: Vec::new(),
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(150000), "150,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(rate(12.34), "12.3");
        assert_eq!(rate(5432.6), "5,433");
        assert_eq!(millis(Some(Duration::from_micros(250))), "0.250");
        assert_eq!(millis(Some(Duration::from_micros(4560))), "4.56");
        assert_eq!(millis(Some(Duration::from_millis(1234))), "1234");
        assert_eq!(millis(None), "-");
    }

    #[test]
    fn targets_judged_on_the_right_rows() {
        let mut r = Report {
            rows: vec![
                row("embedded", Op::Create, 1, 900.0, 2),
                row("embedded", Op::Create, 256, 6000.0, 25),
                row("embedded", Op::Update, 256, 4000.0, 15),
                row("embedded", Op::Get, 16, 31000.0, 3),
                row("etcd", Op::Create, 256, 1000.0, 19),
                row("etcd", Op::Watch { watchers: 1000 }, 1, 10.0, 60),
            ],
            scalars: vec![
                Scalar {
                    store: "embedded".into(),
                    metric: Metric::IdleRss,
                    value: 40.0 * MIB,
                    verdict: None,
                },
                Scalar {
                    store: "embedded".into(),
                    metric: Metric::ReadyEmpty,
                    value: 0.35,
                    verdict: None,
                },
                Scalar {
                    store: "embedded".into(),
                    metric: Metric::RssAfterRestart { pods: 10 },
                    value: 99.0 * MIB,
                    verdict: None,
                },
            ],
            ..Default::default()
        };
        r.judge(256);
        let v = |i: usize| {
            r.rows[i]
                .verdicts
                .iter()
                .map(|v| v.pass)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            v(0),
            Vec::<bool>::new(),
            "1-client create is not judged against the throughput target"
        );
        assert_eq!(
            v(1),
            vec![true, false],
            "best create: passes 5,000/s, fails p99 <= 20 ms"
        );
        assert_eq!(v(2), vec![true]);
        assert_eq!(v(3), vec![true]);
        assert_eq!(v(4), vec![true], "etcd has no creates/s target, only p99");
        assert_eq!(v(5), vec![false]);
        assert_eq!(r.scalars[0].verdict.as_ref().map(|v| v.pass), Some(true));
        assert_eq!(r.scalars[1].verdict.as_ref().map(|v| v.pass), Some(false));
        assert_eq!(
            r.scalars[2].verdict, None,
            "RSS after restart has no target"
        );
        let creates: Vec<_> = r
            .targets
            .iter()
            .filter(|t| t.0.starts_with(">= 5,000"))
            .collect();
        assert_eq!(creates.len(), 1);
        assert!(creates[0].3 && creates[0].2.contains("6,000 /s at 256 clients"));
        let md = r.to_markdown();
        assert!(
            md.contains("| embedded | create ConfigMap | 256 | 100 | 0 | 6,000 | 1.00 | 25.0 |"),
            "{md}"
        );
        assert!(
            md.contains("| ready <= 300 ms (empty data dir) | embedded | 350 ms | **FAIL** |"),
            "{md}"
        );
        assert!(md.contains("| 6,000 | 1.00 | 25.0 | >= 5,000 creates/s; p99 single-object write <= 20 ms at 256 clients | pass; **FAIL** |"), "{md}");
        assert!(md.contains("Targets: 5 of 8 pass."), "{md}");
    }

    #[test]
    fn ratio_table() {
        let r = Report {
            ratios: vec![Ratio {
                store: "embedded".into(),
                clients: 16,
                api_per_sec: 2000.0,
                raw_per_sec: 8000.0,
            }],
            ..Default::default()
        };
        assert!(
            r.to_markdown()
                .contains("| embedded | 16 | 2,000 | 8,000 | 0.25 |")
        );
    }
}
