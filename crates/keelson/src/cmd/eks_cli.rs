//! What the eksctl-style commands (`create cluster`, `get clusters`, `delete cluster`,
//! `utils write-kubeconfig`) share: the region and endpoint flags, eksctl's progress lines.

use std::time::Duration;

use anyhow::Context;
use clap::Args as ClapArgs;
use keelson_cli::eks::wait::Progress;
use keelson_cli::process_env;
use keelson_cli::session::Session;

#[derive(ClapArgs, Clone, Default)]
pub struct AwsArgs {
    /// AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
    #[arg(long, short = 'r')]
    pub region: Option<String>,
    /// The EKS API's URL (default: AWS_ENDPOINT_URL_EKS, AWS_ENDPOINT_URL,
    /// https://eks.<region>.amazonaws.com); also STS's when no STS variable says otherwise.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// The AWS profile to use (wins over AWS_PROFILE and credentials in the environment).
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
}

impl AwsArgs {
    pub fn session(&self) -> anyhow::Result<Session> {
        self.session_in(self.region.as_deref())
    }

    pub fn session_in(&self, region: Option<&str>) -> anyhow::Result<Session> {
        Ok(Session::resolve(
            region,
            self.endpoint_url.as_deref(),
            self.profile.as_deref(),
            &process_env,
        )?)
    }
}

/// eksctl's log line: `[ℹ]  message` (or `[✔]`) on stderr, leaving stdout to output.
pub fn info(message: impl std::fmt::Display) {
    eprintln!("[ℹ]  {message}");
}

pub fn done(message: impl std::fmt::Display) {
    eprintln!("[✔]  {message}");
}

fn seconds(elapsed: Duration) -> String {
    format!("{}s", elapsed.as_secs())
}

/// Prints a waiter's progress for cluster `name`.
pub fn progress(name: &str) -> impl FnMut(Progress<'_>) + '_ {
    move |event| report("cluster", name, event)
}

/// Prints one line of a waiter's progress for the `kind` (cluster, node group) `name`.
pub fn report(kind: &str, name: &str, event: Progress<'_>) {
    match event {
        Progress::Status { status, elapsed } => info(format!(
            "{kind} {name:?} is {status} ({})",
            seconds(elapsed)
        )),
        Progress::Gone { elapsed } => done(format!(
            "{kind} {name:?} is gone after {}",
            seconds(elapsed)
        )),
    }
}

/// The running binary's absolute path, for kubeconfig exec plugins.
pub fn keelson_command() -> anyhow::Result<String> {
    let path = std::env::current_exe().context("finding the running keelson binary")?;
    Ok(path.to_string_lossy().into_owned())
}
