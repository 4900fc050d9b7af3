//! `keelson get clusters`, as eksctl has it: ListClusters (every page) and DescribeCluster
//! for each, as a table or in full as JSON or YAML.

use clap::{Args as ClapArgs, Subcommand};
use keelson_cli::output::{self, Format};
use keelson_cli::workflow;

use super::eks_cli::AwsArgs;

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Get,
}

#[derive(Subcommand)]
enum Get {
    /// List clusters (or show one with --name).
    #[command(alias = "clusters")]
    Cluster(GetClusters),
}

#[derive(ClapArgs)]
struct GetClusters {
    /// Show only this cluster.
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// table, json or yaml.
    #[arg(long, short = 'o', default_value = "table")]
    output: Format,
    #[command(flatten)]
    aws: AwsArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Get::Cluster(args) = args.command;
    let eks = args.aws.session()?.eks()?;
    let clusters = match &args.name {
        Some(name) => vec![eks.describe_cluster(name).await?],
        None => workflow::clusters(&eks).await?,
    };
    print!("{}", output::clusters(&clusters, args.output)?);
    Ok(())
}
