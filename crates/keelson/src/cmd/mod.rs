mod bench;
mod bench_scale;
mod bench_scheduler;
mod control_plane;
mod create;
mod delete;
mod eks_cli;
mod get;
mod get_token;
mod server;
mod sim_nodes;
mod utils;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum Command {
    /// Run one Kubernetes control plane (API server and its store).
    ControlPlane(control_plane::Args),
    /// Benchmarks (`keelson bench api`).
    Bench(bench::Args),
    /// Simulated nodes (like kwok): register Nodes, keep their Leases fresh and run the pods
    /// bound to them without containers.
    SimNodes(sim_nodes::Args),
    /// Print an ExecCredential with an EKS token for a cluster, as `aws eks get-token` does.
    GetToken(get_token::Args),
    /// Run the regional management plane: IAM, STS and the AWS-compatible services, SigV4
    /// authenticated, over one store.
    Server(server::Args),
    /// Create resources from an eksctl ClusterConfig or flags (`keelson create cluster`).
    Create(create::Args),
    /// List resources (`keelson get clusters`).
    Get(get::Args),
    /// Delete resources (`keelson delete cluster`).
    Delete(delete::Args),
    /// Helpers, as eksctl has them (`keelson utils write-kubeconfig`).
    Utils(utils::Args),
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::ControlPlane(args) => control_plane::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::SimNodes(args) => sim_nodes::run(args).await,
        Command::GetToken(args) => get_token::run(args).await,
        Command::Server(args) => server::run(args).await,
        Command::Create(args) => create::run(args).await,
        Command::Get(args) => get::run(args).await,
        Command::Delete(args) => delete::run(args).await,
        Command::Utils(args) => utils::run(args).await,
    }
}

/// Resolve on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
