//! `keelson create cluster`, as eksctl has it: from an eksctl ClusterConfig (`-f`) or from
//! flags, CreateCluster with the role and subnets eksctl's stack would supply, progress until
//! ACTIVE, then the kubeconfig.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{ArgAction, Args as ClapArgs, Subcommand};
use keelson_cli::cluster_config::{ClusterConfig, PLACEHOLDER_SUBNETS};
use keelson_cli::{process_env, workflow};

use super::eks_cli::{AwsArgs, done, info, keelson_command, progress};

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Create,
}

#[derive(Subcommand)]
enum Create {
    /// Create a cluster and wait until it is ACTIVE.
    Cluster(CreateCluster),
}

#[derive(ClapArgs)]
struct CreateCluster {
    /// An eksctl ClusterConfig file (apiVersion eksctl.io/v1alpha5).
    #[arg(long, short = 'f')]
    config_file: Option<PathBuf>,
    /// The cluster's name (without --config-file).
    #[arg(long, short = 'n', required_unless_present = "config_file")]
    name: Option<String>,
    /// Kubernetes version, e.g. 1.33 (default: the service's).
    #[arg(long)]
    version: Option<String>,
    /// The file to merge the kubeconfig into (default: the first of KUBECONFIG, else
    /// ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Write the kubeconfig once the cluster is ACTIVE.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    write_kubeconfig: bool,
    /// Make the cluster's context the current one.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    set_kubeconfig_context: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Create::Cluster(args) = args.command;
    let config = match &args.config_file {
        Some(path) => {
            // As eksctl: the file says everything it can say.
            for (flag, given) in [
                ("--name", args.name.is_some()),
                ("--region", args.aws.region.is_some()),
                ("--version", args.version.is_some()),
            ] {
                if given {
                    bail!("cannot use {flag} when --config-file/-f is set");
                }
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            ClusterConfig::parse(&path.display().to_string(), &text)?
        }
        None => ClusterConfig::from_flags(
            args.name.as_deref().unwrap_or_default(),
            args.aws.region.as_deref(),
            args.version.as_deref(),
        ),
    };
    let name = config.name();
    let session = args.aws.session_in(config.metadata.region.as_deref())?;
    if config.subnet_ids().is_empty() {
        info(format!(
            "Keelson has no VPCs: the cluster names placeholder subnets {PLACEHOLDER_SUBNETS:?}"
        ));
    }
    let request = workflow::create_request(&session, &config).await?;
    info(format!(
        "creating cluster {name:?} in {:?} with role {}",
        session.region(),
        request["roleArn"].as_str().unwrap_or_default()
    ));
    let started = Instant::now();
    let eks = session.eks()?;
    let cluster = workflow::create_cluster(&eks, &request, progress(name)).await?;
    done(format!(
        "cluster {name:?} is ACTIVE after {}s (Kubernetes {}, {})",
        started.elapsed().as_secs(),
        cluster.version(),
        cluster.endpoint().unwrap_or("no endpoint"),
    ));
    for principal in workflow::create_access_entries(&eks, &config).await? {
        done(format!("access entry for {principal}"));
    }
    if config.iam.with_oidc == Some(true) {
        info(format!(
            "iam.withOIDC: the cluster's OIDC issuer is {}; Keelson's IAM has no OIDC providers yet, so none was registered",
            cluster.oidc_issuer().unwrap_or("not published")
        ));
    }
    if args.write_kubeconfig {
        let (path, context) = workflow::write_kubeconfig(
            &session,
            &cluster,
            args.kubeconfig.as_deref(),
            &keelson_command()?,
            args.set_kubeconfig_context,
            &process_env,
        )?;
        done(format!(
            "saved kubeconfig as {:?} (context {context:?})",
            path.display().to_string()
        ));
    }
    done(format!("cluster {name:?} is ready"));
    Ok(())
}
