//! `keelson utils write-kubeconfig`, as eksctl has it: a kubeconfig entry for a cluster in
//! the shape `aws eks update-kubeconfig` writes, signing in through `keelson get-token`.

use std::path::PathBuf;

use clap::{ArgAction, Args as ClapArgs, Subcommand};
use keelson_cli::{process_env, workflow};

use super::eks_cli::{AwsArgs, done, keelson_command};

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Utils,
}

#[derive(Subcommand)]
enum Utils {
    /// Write or update the kubeconfig entry of a cluster.
    WriteKubeconfig(WriteKubeconfig),
}

#[derive(ClapArgs)]
struct WriteKubeconfig {
    /// The cluster's name.
    #[arg(long, short = 'c')]
    cluster: String,
    /// The file to merge into (default: the first of KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Make the cluster's context the current one.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    set_kubeconfig_context: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Utils::WriteKubeconfig(args) = args.command;
    let session = args.aws.session()?;
    let cluster = session.eks()?.describe_cluster(&args.cluster).await?;
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
    Ok(())
}
