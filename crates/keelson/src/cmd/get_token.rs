//! `keelson get-token`: what `aws eks get-token` prints, for kubeconfig exec plugins (see
//! keelson_cli::token).

use std::time::SystemTime;

use anyhow::Context;
use clap::Args as ClapArgs;
use keelson_cli::sts::StsClient;
use keelson_cli::token::{ROLE_SESSION_NAME, exec_credential, presign_token};
use keelson_cli::{Env, credentials, process_env};

#[derive(ClapArgs)]
pub struct Args {
    /// The cluster's name (its x-k8s-aws-id).
    #[arg(long)]
    cluster_name: String,
    /// Region for signing (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// Assume this role first and sign as its session.
    #[arg(long, alias = "role")]
    role_arn: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let env: Env<'_> = &process_env;
    let mut credentials = credentials::load_credentials(env)?;
    let region = credentials::region(args.region.as_deref(), env)?;
    let endpoint = credentials::sts_endpoint(&region, env);
    if let Some(role_arn) = &args.role_arn {
        let ca_bundle = credentials::ca_bundle(env)?;
        credentials = StsClient::new(&endpoint, &region, credentials, ca_bundle.as_deref())?
            .assume_role(role_arn, ROLE_SESSION_NAME)
            .await
            .with_context(|| format!("assuming {role_arn}"))?;
    }
    let now = SystemTime::now();
    let token = presign_token(&endpoint, &region, &credentials, &args.cluster_name, now)?;
    let credential = exec_credential(env("KUBERNETES_EXEC_INFO").as_deref(), &token, now.into());
    println!("{credential}");
    Ok(())
}
