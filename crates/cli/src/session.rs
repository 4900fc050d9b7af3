//! What every command resolves first, as the AWS CLI does: credentials, region and the
//! endpoints of the services it calls.

use std::path::PathBuf;

use crate::credentials::{self, AwsCredentials};
use crate::eks::EksClient;
use crate::sts::StsClient;
use crate::{CliError, Env};

pub struct Session {
    region: String,
    credentials: AwsCredentials,
    eks_endpoint: String,
    sts_endpoint: String,
    profile: Option<String>,
    ca_bundle: Option<PathBuf>,
}

impl Session {
    /// `region` is `--region` (else the environment's or the profile's; one is required, as
    /// for the AWS CLI); `endpoint_url` is `--endpoint-url`, the EKS endpoint. STS follows
    /// AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL, and when neither is set but
    /// `--endpoint-url` is, that: Keelson's front door serves STS and EKS at one address.
    /// `profile` is `--profile`: as with the AWS CLI it wins over AWS_PROFILE and over
    /// credentials in the environment.
    pub fn resolve(
        region: Option<&str>,
        endpoint_url: Option<&str>,
        profile: Option<&str>,
        env: Env<'_>,
    ) -> Result<Session, CliError> {
        let profiled = |name: &str| match (profile.filter(|p| !p.is_empty()), name) {
            (Some(profile), "AWS_PROFILE") => Some(profile.to_string()),
            (
                Some(_),
                "AWS_ACCESS_KEY_ID"
                | "AWS_SECRET_ACCESS_KEY"
                | "AWS_SESSION_TOKEN"
                | "AWS_SECURITY_TOKEN",
            ) => None,
            _ => env(name),
        };
        let env: Env<'_> = &profiled;
        let credentials = credentials::load_credentials(env)?;
        let region = credentials::configured_region(region, env)?.ok_or(CliError::NoRegion)?;
        let eks_endpoint = credentials::eks_endpoint(endpoint_url, &region, env);
        let sts_variable = ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|name| env(name).is_some_and(|v| !v.is_empty()));
        let sts_endpoint = match endpoint_url.filter(|e| !e.is_empty()) {
            Some(endpoint) if !sts_variable => endpoint.to_string(),
            _ => credentials::sts_endpoint(&region, env),
        };
        Ok(Session {
            region,
            credentials,
            eks_endpoint,
            sts_endpoint,
            profile: credentials::explicit_profile(env),
            ca_bundle: credentials::ca_bundle(env)?,
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn eks(&self) -> Result<EksClient, CliError> {
        EksClient::new(
            &self.eks_endpoint,
            &self.region,
            self.credentials.clone(),
            self.ca_bundle.as_deref(),
        )
    }

    pub fn sts(&self) -> Result<StsClient, CliError> {
        StsClient::new(
            &self.sts_endpoint,
            &self.region,
            self.credentials.clone(),
            self.ca_bundle.as_deref(),
        )
    }

    pub fn sts_endpoint(&self) -> &str {
        &self.sts_endpoint
    }

    /// The profile chosen with AWS_PROFILE, which kubeconfig exec plugins pass on.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The environment a kubeconfig exec plugin (`keelson get-token`) needs to sign as this
    /// session does: the profile chosen with AWS_PROFILE (as the AWS CLI writes it), and the
    /// STS endpoint when it is not AWS's, since tokens are presigned for one STS host and the
    /// plugin may run from a shell without these variables.
    pub fn exec_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(profile) = &self.profile {
            env.push(("AWS_PROFILE".to_string(), profile.clone()));
        }
        if self.sts_is_custom() {
            env.push((
                "AWS_ENDPOINT_URL_STS".to_string(),
                self.sts_endpoint.clone(),
            ));
        }
        env
    }

    /// Whether STS is somewhere other than AWS's own endpoint for the region, so that an exec
    /// plugin run later (from another shell) must be told where to presign for.
    pub fn sts_is_custom(&self) -> bool {
        self.sts_endpoint != format!("https://sts.{}.amazonaws.com", self.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const KEYS: [(&str, &str); 3] = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
    ];

    #[test]
    fn a_region_is_required() {
        let env = env_of(&KEYS);
        assert!(matches!(
            Session::resolve(None, None, None, &env),
            Err(CliError::NoRegion)
        ));
        let session = Session::resolve(Some("eu-west-1"), None, None, &env).unwrap();
        assert_eq!(session.region(), "eu-west-1");
        assert_eq!(session.eks_endpoint, "https://eks.eu-west-1.amazonaws.com");
        assert_eq!(
            session.sts_endpoint(),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert!(!session.sts_is_custom());
        assert!(session.exec_env().is_empty());
    }

    #[test]
    fn the_endpoint_flag_serves_sts_too_unless_a_variable_says_otherwise() {
        let env = env_of(&KEYS);
        let session = Session::resolve(Some("r"), Some("http://keelson:1"), None, &env).unwrap();
        assert_eq!(session.eks_endpoint, "http://keelson:1");
        assert_eq!(session.sts_endpoint(), "http://keelson:1");
        assert!(session.sts_is_custom());
        assert_eq!(
            session.exec_env(),
            [(
                "AWS_ENDPOINT_URL_STS".to_string(),
                "http://keelson:1".to_string()
            )]
        );
        let with_sts: &'static [(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_ENDPOINT_URL", "http://global:2"),
        ];
        let env = env_of(with_sts);
        let session = Session::resolve(Some("r"), Some("http://keelson:1"), None, &env).unwrap();
        assert_eq!(session.eks_endpoint, "http://keelson:1");
        assert_eq!(session.sts_endpoint(), "http://global:2");
    }

    #[test]
    fn the_profile_flag_wins_over_the_environment() {
        let dir = std::env::temp_dir().join(format!("keelson-session-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials");
        std::fs::write(
            &file,
            "[ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = s\n",
        )
        .unwrap();
        let file = file.to_string_lossy().into_owned();
        let env = move |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("AKIAENV".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_string()),
            "AWS_PROFILE" => Some("default".to_string()),
            "AWS_SHARED_CREDENTIALS_FILE" => Some(file.clone()),
            "AWS_CONFIG_FILE" => Some("/nonexistent".to_string()),
            _ => None,
        };
        let from_env = Session::resolve(Some("r"), None, None, &env).unwrap();
        assert_eq!(from_env.credentials.access_key_id, "AKIAENV");
        let ops = Session::resolve(Some("r"), None, Some("ops"), &env).unwrap();
        assert_eq!(ops.credentials.access_key_id, "AKIAOPS");
        assert_eq!(ops.profile(), Some("ops"));
        assert_eq!(
            ops.exec_env(),
            [("AWS_PROFILE".to_string(), "ops".to_string())]
        );
        assert!(Session::resolve(Some("r"), None, Some("nobody"), &env).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
