//! `keelson bench api`: a thin shell over `keelson_bench`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args as ClapArgs, Subcommand};
use keelson_bench::{BenchOptions, RawTarget, StoreChoice, StoreOpener};
use keelson_store::Store;

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Benchmark the Kubernetes API server end to end (spawns `keelson control-plane`), print a
    /// markdown table and append it to BENCHMARKS.md.
    Api(ApiArgs),
    /// Scheduling throughput on simulated nodes (spawns `keelson control-plane`), print a
    /// markdown table and append it to BENCHMARKS.md.
    Scheduler(super::bench_scheduler::SchedulerArgs),
    /// Thousands of simulated nodes holding a hundred thousand or more running pods (spawns
    /// `keelson control-plane` and `keelson sim-nodes`): RSS, listing every pod with kubectl,
    /// and scaling a Deployment; prints a markdown table and appends it to BENCHMARKS.md.
    Scale(super::bench_scale::ScaleArgs),
}

#[derive(ClapArgs)]
struct ApiArgs {
    /// Concurrent client counts for create, get, update and list.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    clients: Vec<usize>,
    /// ConfigMaps in the list namespace.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Watch streams for the fan-out measurement (0 skips it).
    #[arg(long, default_value_t = 1_000)]
    watchers: usize,
    /// Updates sent during the fan-out (each goes to every watcher), 50 ms apart.
    #[arg(long, default_value_t = 40)]
    watch_events: usize,
    /// Pods stored before the restart measurement (0 skips it).
    #[arg(long, default_value_t = 150_000)]
    pods: usize,
    /// Seconds per timed phase (each create, get, update, list at each concurrency).
    #[arg(long, default_value_t = 3.0)]
    duration_secs: f64,
    /// Repeats of each timed phase; the table shows medians.
    #[arg(long, default_value_t = 1)]
    repeats: usize,
    /// Store backends to run: embedded, etcd.
    #[arg(long, value_delimiter = ',', default_value = "embedded,etcd")]
    stores: Vec<StoreChoice>,
    /// Client tasks sharing one HTTP/2 connection.
    #[arg(long, default_value_t = 16)]
    clients_per_connection: usize,
    /// The etcd binary for --stores etcd.
    #[arg(long, default_value = "/usr/bin/etcd")]
    etcd_binary: PathBuf,
    /// Markdown file the results are appended to.
    #[arg(long, default_value = "BENCHMARKS.md")]
    append: PathBuf,
    /// Only print; do not append.
    #[arg(long)]
    no_append: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Api(a) => api(a).await,
        BenchCommand::Scheduler(a) => super::bench_scheduler::run(a, command_line()).await,
        BenchCommand::Scale(a) => super::bench_scale::run(a, command_line()).await,
    }
}

async fn api(a: ApiArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.duration_secs.is_finite() && a.duration_secs > 0.0,
        "--duration-secs must be positive"
    );
    let options = BenchOptions {
        open_store: store_opener(),
        keelson_exe: std::env::current_exe().context("finding the keelson binary")?,
        clients: a.clients,
        objects: a.objects,
        watchers: a.watchers,
        pods: a.pods,
        duration: Duration::from_secs_f64(a.duration_secs),
        repeats: a.repeats,
        stores: a.stores,
        clients_per_connection: a.clients_per_connection,
        watch_events: a.watch_events,
        etcd_binary: a.etcd_binary,
    };
    let command_line = command_line();
    let report = keelson_bench::run_api_bench(&options).await?;
    let tables = report.to_markdown();
    println!("{tables}");
    if !a.no_append {
        let date = keelson_bench::machine::now_utc();
        let section = keelson_bench::machine::section(
            "api",
            &date,
            &command_line,
            &keelson_bench::machine::describe(),
            &tables,
        );
        keelson_bench::machine::append(&a.append, &section)?;
        eprintln!("appended to {}", a.append.display());
    }
    Ok(())
}

/// Open the raw-store comparison's backend the way `control-plane` opens its store.
fn store_opener() -> StoreOpener {
    Arc::new(|target| {
        Box::pin(async move {
            let store: Arc<dyn Store> = match target {
                RawTarget::Embedded { dir } => {
                    keelson_store::embedded::EmbeddedStore::open(&dir, Default::default())
                        .await
                        .map_err(|e| e.to_string())?
                }
                RawTarget::Etcd { endpoint, prefix } => {
                    let options = keelson_store_etcd::EtcdOptions {
                        endpoints: vec![endpoint],
                        prefix,
                        ..Default::default()
                    };
                    Arc::new(
                        keelson_store_etcd::EtcdStore::connect(options)
                            .await
                            .map_err(|e| e.to_string())?,
                    )
                }
            };
            Ok(store)
        })
    })
}

/// This process's command line, quoted for a shell, as BENCHMARKS.md records it.
fn command_line() -> String {
    std::env::args()
        .map(|s| shell_quote(&s))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
