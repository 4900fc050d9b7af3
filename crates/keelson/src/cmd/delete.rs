//! `keelson delete cluster`, as eksctl has it: the node groups first (EKS refuses to delete a
//! cluster that has any), then DeleteCluster, and with --wait, progress until DescribeCluster
//! answers ResourceNotFoundException.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Subcommand};
use keelson_cli::cluster_config::ClusterConfig;
use keelson_cli::workflow::{self, Deleting};

use super::eks_cli::{AwsArgs, done, info, report};

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Delete,
}

#[derive(Subcommand)]
enum Delete {
    /// Delete a cluster.
    Cluster(DeleteCluster),
}

#[derive(ClapArgs)]
struct DeleteCluster {
    /// The cluster's name.
    #[arg(long, short = 'n', required_unless_present = "config_file")]
    name: Option<String>,
    /// Take the name and region from an eksctl ClusterConfig file.
    #[arg(long, short = 'f', conflicts_with = "name")]
    config_file: Option<PathBuf>,
    /// Wait until the cluster is gone.
    #[arg(long, short = 'w')]
    wait: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Delete::Cluster(args) = args.command;
    let (name, region) = match (&args.name, &args.config_file) {
        (Some(name), None) => (name.clone(), args.aws.region.clone()),
        (None, Some(path)) => {
            if args.aws.region.is_some() {
                bail!("cannot use --region when --config-file/-f is set");
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let config = ClusterConfig::parse(&path.display().to_string(), &text)?;
            (config.name().to_string(), config.metadata.region.clone())
        }
        _ => bail!("name one cluster: --name or --config-file"),
    };
    let session = args.aws.session_in(region.as_deref())?;
    let eks = session.eks()?;
    info(format!(
        "deleting cluster {name:?} in {:?}",
        session.region()
    ));
    let cluster = workflow::delete_cluster(&eks, &name, args.wait, |event| match event {
        Deleting::Nodegroup(group, progress) => report("node group", group, progress),
        Deleting::Cluster(progress) => report("cluster", &name, progress),
    })
    .await?;
    if args.wait {
        done(format!("cluster {name:?} deleted"));
    } else {
        done(format!(
            "cluster {name:?} is {}; `keelson delete cluster --name {name} --wait` waits until it is gone",
            cluster.status()
        ));
    }
    Ok(())
}
