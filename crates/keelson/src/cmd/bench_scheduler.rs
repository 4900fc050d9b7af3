//! `keelson bench scheduler`: scheduling throughput on simulated nodes against a control plane
//! this command starts, with the scheduling core's own rate measured in the same run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args as ClapArgs;
use keelson_bench::process::{ControlPlaneSpec, free_port};
use keelson_scheduler::bench::{
    BenchOptions, CONSTRAINED_CASES, basic_pod, bench, constrained_pod, core_throughput,
    core_throughput_among,
};

#[derive(ClapArgs)]
pub struct SchedulerArgs {
    /// Simulated Node objects.
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    /// Pods of the basic case (comma separated runs, e.g. 10000,50000).
    #[arg(long, value_delimiter = ',', default_value = "10000,50000")]
    basic_pods: Vec<usize>,
    /// Pods of each constrained case (anti-affinity, preferred affinity, topology spread);
    /// 0 skips them.
    #[arg(long, default_value_t = 1000)]
    constrained_pods: usize,
    /// Give up on a case after this many seconds.
    #[arg(long, default_value_t = 900)]
    case_timeout_secs: u64,
    /// Markdown file the results are appended to.
    #[arg(long, default_value = "BENCHMARKS.md")]
    append: PathBuf,
    /// Only print; do not append.
    #[arg(long)]
    no_append: bool,
}

pub async fn run(a: SchedulerArgs, command_line: String) -> anyhow::Result<()> {
    let mut tables = String::new();
    for (run, basic_pods) in a.basic_pods.iter().copied().enumerate() {
        // A fresh control plane per run, so one run's pods do not slow the next.
        let dir = tempfile::tempdir().context("creating a data directory")?;
        let spec = ControlPlaneSpec {
            exe: std::env::current_exe().context("finding the keelson binary")?,
            data_dir: dir.path().join("plane"),
            port: free_port()?,
            etcd_endpoint: None,
        };
        let plane = spec.start(Duration::from_secs(60)).await?;
        let kubeconfig = kube::config::Kubeconfig::read_from(spec.kubeconfig_path())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let client = kube::Client::try_from(config)?;
        let options = BenchOptions {
            nodes: a.nodes,
            basic_pods,
            // The constrained cases once, with the first run.
            constrained_pods: if run == 0 { a.constrained_pods } else { 0 },
            case_timeout: Duration::from_secs(a.case_timeout_secs),
        };
        let report = bench(client, options).await?;
        let rss = plane.rss_bytes().unwrap_or(0);
        // A slow stop is reported, not fatal: the measurements above stand either way.
        let stopping = Instant::now();
        let stopped = match plane.stop(Duration::from_secs(60)).await {
            Ok(()) => format!(
                "exited {:.1} s after SIGTERM",
                stopping.elapsed().as_secs_f64()
            ),
            Err(err) => format!("did not stop cleanly ({err})"),
        };
        let started = Instant::now();
        let core = core_throughput(a.nodes, basic_pods, basic_pod);
        let core_elapsed = started.elapsed();
        tables.push_str(&format!("{report}\n"));
        // The constrained cases ran after the basic pods, which stay placed: so here too.
        let constrained = if run == 0 && a.constrained_pods > 0 {
            let rates: Vec<String> = CONSTRAINED_CASES
                .iter()
                .map(|case| {
                    let rate =
                        core_throughput_among(a.nodes, basic_pods, a.constrained_pods, |i| {
                            constrained_pod(case, i)
                        });
                    format!("{case} {rate:.0} pods/s")
                })
                .collect();
            format!(
                " The core alone on the constrained cases ({} pods each, among the {basic_pods} placed basic pods): {}.",
                a.constrained_pods,
                rates.join(", ")
            )
        } else {
            String::new()
        };
        tables.push_str(&format!(
            "Same run: the scheduling core alone (no API server) does {core:.0} pods/s for {basic_pods} basic pods on {} nodes ({:.1} s); control-plane RSS after the run {:.0} MiB; the control plane {stopped}.{constrained}\n\n",
            a.nodes,
            core_elapsed.as_secs_f64(),
            rss as f64 / (1024.0 * 1024.0),
        ));
    }
    println!("{tables}");
    if !a.no_append {
        let section = keelson_bench::machine::section(
            "scheduler",
            &keelson_bench::machine::now_utc(),
            &command_line,
            &keelson_bench::machine::describe(),
            &tables,
        );
        keelson_bench::machine::append(&a.append, &section)?;
        eprintln!("appended to {}", a.append.display());
    }
    Ok(())
}
