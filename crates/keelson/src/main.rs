//! `keelson`: one binary for every Keelson role. Each subcommand is a thin shell over a library
//! crate's entry point.

mod cmd;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "keelson",
    version,
    about = "Keelson: managed Kubernetes, self-hosted"
)]
struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEELSON_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(cmd::run(cli.command))
}
