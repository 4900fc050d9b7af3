//! One whole `keelson bench api` run: for each store, the raw store rate, a fresh control plane,
//! the API workloads at each concurrency, lists, watch fan-out, and the restart with Pods.

use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, Creator, Getter, Lister, PagedLister, Updater};
use crate::client::Pool;
use crate::driver::{Limit, Worker, drive};
use crate::etcd::Etcd;
use crate::lifecycle::{self, short};
use crate::options::{BenchOptions, StoreChoice};
use crate::process::{ControlPlaneSpec, free_port};
use crate::raw::{self, RawCreator, RawTarget};
use crate::report::{Op, Ratio, Report, Row};
use crate::stats::{Summary, median_of};
use crate::{BenchError, watch};

/// Parallel clients used to fill the list namespace and the Pods (not a measured concurrency
/// level, but its create rate is reported).
const FILL_CLIENTS: usize = 64;
const PAGE_LIMIT: usize = 500;

pub async fn run_api_bench(opts: &BenchOptions) -> Result<Report, BenchError> {
    opts.validate()?;
    let mut report = Report::default();
    for &store in &opts.stores {
        tracing::info!(store = store.name(), "benchmarking");
        run_store(opts, store, &mut report).await?;
    }
    report.judge(opts.max_clients());
    Ok(report)
}

/// Run the workers `repeats` times; the median summary and the workers after the last repeat
/// (carrying their state, e.g. created objects, into the next phase).
async fn phase<W: Worker>(
    opts: &BenchOptions,
    report: &mut Report,
    mut workers: Vec<W>,
    limit: Limit,
) -> Result<(Summary, Vec<W>), BenchError> {
    let mut summaries = Vec::new();
    for _ in 0..opts.repeats {
        let (mut sample, back) = drive(workers, limit).await?;
        workers = back;
        summaries.push(sample.summarize());
        if let Some(e) = sample.first_error {
            report.notes.push(format!(
                "{} failed requests; first: {}",
                sample.errors,
                short(&e)
            ));
        }
    }
    Ok((median_of(&summaries), workers))
}

fn row(store: StoreChoice, op: Op, clients: usize, summary: Summary) -> Row {
    Row {
        store: store.name().into(),
        op,
        clients,
        summary,
        note: String::new(),
        verdicts: vec![],
    }
}

async fn run_store(
    opts: &BenchOptions,
    store: StoreChoice,
    report: &mut Report,
) -> Result<(), BenchError> {
    let work = tempfile::Builder::new()
        .prefix("keelson-bench")
        .tempdir()
        .map_err(BenchError::io("creating a temp dir"))?;
    let etcd = match store {
        StoreChoice::Etcd => Some(Etcd::start(&opts.etcd_binary, Duration::from_secs(30)).await?),
        StoreChoice::Embedded => None,
    };

    // The raw store first, while nothing else runs.
    let raw_rates = raw_store_rates(opts, store, work.path(), etcd.as_ref(), report).await?;

    let spec = ControlPlaneSpec {
        exe: opts.keelson_exe.clone(),
        data_dir: work.path().join("control-plane"),
        port: free_port()?,
        etcd_endpoint: etcd.as_ref().map(|e| e.client_url.clone()),
    };
    let cp = lifecycle::start_empty(&spec, store.name(), &mut report.scalars).await?;
    let admin = Pool::open(&cp.endpoint, 1).await?;
    for ns in ["bench", "bench-list", "bench-watch"] {
        api::ensure_namespace(&admin.conn(0), ns).await?;
    }
    let ns: Arc<str> = "bench".into();
    let limit = Limit::Time(opts.duration);

    for &clients in &opts.clients {
        tracing::info!(store = store.name(), clients, "create, get, update");
        let pool = Pool::open(&cp.endpoint, clients.div_ceil(opts.clients_per_connection)).await?;
        let creators = (0..clients)
            .map(|i| Creator {
                conn: pool.conn(i),
                namespace: ns.clone(),
                prefix: format!("c{clients}").into(),
                created: vec![],
            })
            .collect();
        let (created, creators) = phase(opts, report, creators, limit).await?;
        report.rows.push(row(store, Op::Create, clients, created));
        if let Some(raw) = raw_rates.iter().find(|(c, _)| *c == clients) {
            report.ratios.push(Ratio {
                store: store.name().into(),
                clients,
                api_per_sec: created.ops_per_sec,
                raw_per_sec: raw.1,
            });
        }

        let names: Arc<Vec<String>> = Arc::new(
            creators
                .iter()
                .flat_map(|c| c.created.iter().map(|(n, _)| n.clone()))
                .collect(),
        );
        if names.is_empty() {
            return Err(BenchError::ControlPlane(format!(
                "no ConfigMap could be created at {clients} clients"
            )));
        }
        let getters = (0..clients)
            .map(|i| Getter {
                conn: pool.conn(i),
                namespace: ns.clone(),
                names: names.clone(),
            })
            .collect();
        let (got, _) = phase(opts, report, getters, limit).await?;
        report.rows.push(row(store, Op::Get, clients, got));

        // Each updater owns what one creator made, so conditional PUTs never contend.
        let updaters = creators
            .into_iter()
            .enumerate()
            .map(|(i, c)| Updater {
                conn: pool.conn(i),
                namespace: ns.clone(),
                owned: c.created,
                next: 0,
            })
            .collect();
        let (updated, _) = phase(opts, report, updaters, limit).await?;
        report.rows.push(row(store, Op::Update, clients, updated));
    }

    if opts.objects > 0 {
        lists(opts, store, &cp.endpoint, report).await?;
    }

    if opts.watchers > 0 {
        tracing::info!(
            store = store.name(),
            watchers = opts.watchers,
            "watch fan-out"
        );
        let r = watch::fanout(
            &cp.endpoint,
            &admin.conn(0),
            "bench-watch",
            opts.watchers,
            opts.watch_events,
            Duration::from_millis(50),
        )
        .await?;
        let mut summary = r.sample.clone().summarize();
        summary.errors = r.sample.errors;
        let mut w = row(
            store,
            Op::Watch {
                watchers: opts.watchers,
            },
            1,
            summary,
        );
        w.note = format!(
            "{} events × {} streams open: {}/{} delivered",
            r.events_sent, r.established, r.delivered, r.expected
        );
        if let Some(e) = &r.sample.first_error {
            report
                .notes
                .push(format!("watch streams failed: {}", short(e)));
        }
        report.rows.push(w);
    }
    drop(admin);

    let cp = if opts.pods > 0 {
        tracing::info!(
            store = store.name(),
            pods = opts.pods,
            "filling with Pods and restarting"
        );
        let clients = FILL_CLIENTS;
        lifecycle::restart_with_pods(
            cp,
            &spec,
            store.name(),
            opts.pods,
            clients,
            opts.clients_per_connection,
            report,
        )
        .await?
    } else {
        cp
    };
    cp.stop(Duration::from_secs(60)).await?;
    drop(etcd);
    Ok(())
}

/// Fill the list namespace, then time full and paginated lists at each concurrency.
async fn lists(
    opts: &BenchOptions,
    store: StoreChoice,
    endpoint: &crate::client::Endpoint,
    report: &mut Report,
) -> Result<(), BenchError> {
    tracing::info!(store = store.name(), objects = opts.objects, "lists");
    let ns: Arc<str> = "bench-list".into();
    let fill = Pool::open(endpoint, FILL_CLIENTS.div_ceil(opts.clients_per_connection)).await?;
    let creators = (0..FILL_CLIENTS)
        .map(|i| Creator {
            conn: fill.conn(i),
            namespace: ns.clone(),
            prefix: "item".into(),
            created: vec![],
        })
        .collect();
    let (mut sample, _) = drive(creators, Limit::Count(opts.objects as u64)).await?;
    report.rows.push(row(
        store,
        Op::Populate {
            objects: opts.objects,
        },
        FILL_CLIENTS,
        sample.summarize(),
    ));
    let listed = api::count_items(&fill.conn(0), &ns).await?;
    let paged = api::paged_count(&fill.conn(0), &ns, PAGE_LIMIT).await?;
    if listed != opts.objects || paged != opts.objects {
        report.notes.push(format!(
            "{store}: the list namespace holds {listed} ConfigMaps by full list and {paged} by paginated list, {} were created",
            opts.objects,
            store = store.name()
        ));
    }
    drop(fill);
    let limit = Limit::Time(opts.duration);
    for &clients in &opts.clients {
        let pool = Pool::open(endpoint, clients.div_ceil(opts.clients_per_connection)).await?;
        let listers = (0..clients)
            .map(|i| Lister {
                conn: pool.conn(i),
                namespace: ns.clone(),
            })
            .collect();
        let (full, _) = phase(opts, report, listers, limit).await?;
        report.rows.push(row(
            store,
            Op::List {
                objects: opts.objects,
            },
            clients,
            full,
        ));
        let listers = (0..clients)
            .map(|i| PagedLister {
                conn: pool.conn(i),
                namespace: ns.clone(),
                limit: PAGE_LIMIT,
            })
            .collect();
        let (walk, _) = phase(opts, report, listers, limit).await?;
        report.rows.push(row(
            store,
            Op::ListPaged {
                objects: opts.objects,
                limit: PAGE_LIMIT,
            },
            clients,
            walk,
        ));
    }
    Ok(())
}

/// Creates/s of the bare backend at each concurrency (median over repeats).
async fn raw_store_rates(
    opts: &BenchOptions,
    store: StoreChoice,
    work: &std::path::Path,
    etcd: Option<&Etcd>,
    report: &mut Report,
) -> Result<Vec<(usize, f64)>, BenchError> {
    tracing::info!(store = store.name(), "raw store writes");
    let target = match (store, etcd) {
        (StoreChoice::Etcd, Some(etcd)) => RawTarget::Etcd {
            endpoint: etcd.client_url.clone(),
            prefix: "/keelson-bench-raw".into(),
        },
        _ => RawTarget::Embedded {
            dir: work.join("raw-store"),
        },
    };
    let backend = raw::open(&opts.open_store, target).await?;
    let value = raw::value();
    let mut rates = Vec::new();
    for &clients in &opts.clients {
        let workers = (0..clients)
            .map(|_| RawCreator {
                store: backend.clone(),
                prefix: format!("/raw/c{clients}/").into(),
                value: value.clone(),
            })
            .collect();
        let (summary, _) = phase(opts, report, workers, Limit::Time(opts.duration)).await?;
        rates.push((clients, summary.ops_per_sec));
    }
    Ok(rates)
}
