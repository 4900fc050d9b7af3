//! Finding AWS credentials, region and STS endpoint the way the AWS CLI does (the subset a
//! kubeconfig exec plugin needs): environment first, then the shared credentials and config
//! files of the selected profile.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{CliError, Env};

/// Long-term or temporary AWS credentials. Debug output hides the secrets.
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn non_empty(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

fn profile(env: Env<'_>) -> String {
    non_empty(env, "AWS_PROFILE")
        .or_else(|| non_empty(env, "AWS_DEFAULT_PROFILE"))
        .unwrap_or_else(|| "default".into())
}

fn home_file(env: Env<'_>, name: &str) -> Option<PathBuf> {
    non_empty(env, "HOME").map(|home| Path::new(&home).join(".aws").join(name))
}

/// An INI file as the AWS CLI reads it: `[section]` headers and `key = value` lines.
fn read_ini(path: &Path) -> Result<HashMap<String, HashMap<String, String>>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(source) => {
            return Err(CliError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Ok(parse_ini(&text))
}

pub fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    sections
}

/// The profile's section of `~/.aws/config`: `[default]` or `[profile NAME]`.
fn config_section(env: Env<'_>) -> Result<HashMap<String, String>, CliError> {
    let Some(path) = non_empty(env, "AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home_file(env, "config"))
    else {
        return Ok(HashMap::new());
    };
    let mut sections = read_ini(&path)?;
    let name = profile(env);
    let key = if name == "default" {
        name
    } else {
        format!("profile {name}")
    };
    Ok(sections.remove(&key).unwrap_or_default())
}

fn from_section(section: &HashMap<String, String>) -> Option<AwsCredentials> {
    Some(AwsCredentials {
        access_key_id: section.get("aws_access_key_id")?.clone(),
        secret_access_key: section.get("aws_secret_access_key")?.clone(),
        session_token: section
            .get("aws_session_token")
            .or_else(|| section.get("aws_security_token"))
            .cloned(),
    })
}

/// Credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN), else the
/// profile (AWS_PROFILE, default `default`) of the shared credentials file
/// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), else of the config file.
pub fn load_credentials(env: Env<'_>) -> Result<AwsCredentials, CliError> {
    if let (Some(access_key_id), Some(secret_access_key)) = (
        non_empty(env, "AWS_ACCESS_KEY_ID"),
        non_empty(env, "AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(AwsCredentials {
            access_key_id,
            secret_access_key,
            session_token: non_empty(env, "AWS_SESSION_TOKEN")
                .or_else(|| non_empty(env, "AWS_SECURITY_TOKEN")),
        });
    }
    let name = profile(env);
    if let Some(path) = non_empty(env, "AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home_file(env, "credentials"))
        && let Some(credentials) = read_ini(&path)?.get(&name).and_then(from_section)
    {
        return Ok(credentials);
    }
    if let Some(credentials) = from_section(&config_section(env)?) {
        return Ok(credentials);
    }
    Err(CliError::NoCredentials { profile: name })
}

/// `--region`, else AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1
/// (the region presigned STS URLs use when none is configured).
pub fn region(flag: Option<&str>, env: Env<'_>) -> Result<String, CliError> {
    Ok(configured_region(flag, env)?.unwrap_or_else(|| "us-east-1".into()))
}

/// `--region`, else AWS_REGION, AWS_DEFAULT_REGION, the profile's region; none when nothing
/// names one (the AWS CLI then refuses to call a regional service such as EKS).
pub fn configured_region(flag: Option<&str>, env: Env<'_>) -> Result<Option<String>, CliError> {
    if let Some(region) = flag.filter(|r| !r.is_empty()) {
        return Ok(Some(region.to_string()));
    }
    if let Some(region) =
        non_empty(env, "AWS_REGION").or_else(|| non_empty(env, "AWS_DEFAULT_REGION"))
    {
        return Ok(Some(region));
    }
    Ok(config_section(env)?
        .remove("region")
        .filter(|r| !r.is_empty()))
}

/// The STS endpoint: AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else AWS's regional one.
pub fn sts_endpoint(region: &str, env: Env<'_>) -> String {
    service_endpoint("sts", None, region, env)
}

/// The EKS endpoint: `--endpoint-url`, else AWS_ENDPOINT_URL_EKS, else AWS_ENDPOINT_URL, else
/// AWS's regional one.
pub fn eks_endpoint(flag: Option<&str>, region: &str, env: Env<'_>) -> String {
    service_endpoint("eks", flag, region, env)
}

/// The AWS CLI's endpoint order for a service whose endpoint prefix is `service`.
fn service_endpoint(service: &str, flag: Option<&str>, region: &str, env: Env<'_>) -> String {
    let specific = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
    flag.filter(|f| !f.is_empty())
        .map(str::to_string)
        .or_else(|| non_empty(env, &specific))
        .or_else(|| non_empty(env, "AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://{service}.{region}.amazonaws.com"))
}

/// The CA bundle HTTPS calls trust instead of the system's roots: AWS_CA_BUNDLE, else the
/// profile's `ca_bundle`.
pub fn ca_bundle(env: Env<'_>) -> Result<Option<PathBuf>, CliError> {
    if let Some(path) = non_empty(env, "AWS_CA_BUNDLE") {
        return Ok(Some(PathBuf::from(path)));
    }
    Ok(config_section(env)?
        .remove("ca_bundle")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from))
}

/// The profile in use when one was chosen explicitly (kubeconfig exec plugins pass it on).
pub fn explicit_profile(env: Env<'_>) -> Option<String> {
    non_empty(env, "AWS_PROFILE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keelson-creds-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_environment_comes_first() {
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ]);
        let credentials = load_credentials(&env).unwrap();
        assert_eq!(credentials.access_key_id, "AKIAENV");
        assert_eq!(credentials.session_token.as_deref(), Some("session"));
        assert!(!format!("{credentials:?}").contains("secret"));
    }

    #[test]
    fn profiles_come_from_the_shared_files() {
        let dir = temp_dir("profiles");
        let credentials_file = dir.join("credentials");
        std::fs::write(
            &credentials_file,
            "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n# a comment\n[dev]\naws_access_key_id=AKIADEV\naws_secret_access_key=s2\naws_session_token=t2\n",
        )
        .unwrap();
        let config_file = dir.join("config");
        std::fs::write(
            &config_file,
            "[profile ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = s3\nregion = eu-west-1\n",
        )
        .unwrap();
        let file = credentials_file.to_str().unwrap();
        let config = config_file.to_str().unwrap();
        let default = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", file),
            ("AWS_CONFIG_FILE", config),
        ]);
        assert_eq!(
            load_credentials(&default).unwrap().access_key_id,
            "AKIADEFAULT"
        );
        let dev = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", file),
            ("AWS_CONFIG_FILE", config),
            ("AWS_PROFILE", "dev"),
        ]);
        let credentials = load_credentials(&dev).unwrap();
        assert_eq!(credentials.access_key_id, "AKIADEV");
        assert_eq!(credentials.session_token.as_deref(), Some("t2"));
        let ops = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", file),
            ("AWS_CONFIG_FILE", config),
            ("AWS_PROFILE", "ops"),
        ]);
        assert_eq!(load_credentials(&ops).unwrap().access_key_id, "AKIAOPS");
        assert_eq!(region(None, &ops).unwrap(), "eu-west-1");
        assert_eq!(region(Some("ap-south-1"), &ops).unwrap(), "ap-south-1");
        let missing = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", file),
            ("AWS_CONFIG_FILE", config),
            ("AWS_PROFILE", "nobody"),
        ]);
        assert!(load_credentials(&missing).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn endpoints_follow_the_cli_variables() {
        let specific = env_of(&[
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:2"),
        ]);
        assert_eq!(sts_endpoint("r", &specific), "http://127.0.0.1:1");
        let global = env_of(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:2")]);
        assert_eq!(sts_endpoint("r", &global), "http://127.0.0.1:2");
        assert_eq!(
            sts_endpoint("eu-west-1", &env_of(&[])),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(region(None, &env_of(&[])).unwrap(), "us-east-1");
    }

    #[test]
    fn eks_endpoints_prefer_the_flag_then_the_service_variable() {
        let both = env_of(&[
            ("AWS_ENDPOINT_URL_EKS", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:2"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
        ]);
        assert_eq!(
            eks_endpoint(Some("http://flag:3"), "r", &both),
            "http://flag:3"
        );
        assert_eq!(eks_endpoint(None, "r", &both), "http://127.0.0.1:1");
        assert_eq!(eks_endpoint(Some(""), "r", &both), "http://127.0.0.1:1");
        let global = env_of(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:2")]);
        assert_eq!(eks_endpoint(None, "r", &global), "http://127.0.0.1:2");
        // The STS variable is not the EKS one.
        let sts_only = env_of(&[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4")]);
        assert_eq!(
            eks_endpoint(None, "eu-west-1", &sts_only),
            "https://eks.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn the_ca_bundle_comes_from_the_environment_then_the_profile() {
        let dir = temp_dir("ca-bundle");
        let config_file = dir.join("config");
        std::fs::write(&config_file, "[profile ops]\nca_bundle = /etc/ops-ca.pem\n").unwrap();
        let config = config_file.to_str().unwrap();
        let both = env_of(&[
            ("AWS_CA_BUNDLE", "/etc/env-ca.pem"),
            ("AWS_CONFIG_FILE", config),
            ("AWS_PROFILE", "ops"),
        ]);
        assert_eq!(
            ca_bundle(&both).unwrap(),
            Some(PathBuf::from("/etc/env-ca.pem"))
        );
        let profile = env_of(&[("AWS_CONFIG_FILE", config), ("AWS_PROFILE", "ops")]);
        assert_eq!(
            ca_bundle(&profile).unwrap(),
            Some(PathBuf::from("/etc/ops-ca.pem"))
        );
        let neither = env_of(&[("AWS_CONFIG_FILE", config)]);
        assert_eq!(ca_bundle(&neither).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn regions_follow_flag_then_environment_then_profile() {
        let dir = temp_dir("regions");
        let config_file = dir.join("config");
        std::fs::write(&config_file, "[default]\nregion = ap-east-1\n").unwrap();
        let config = config_file.to_str().unwrap();
        let all = env_of(&[
            ("AWS_REGION", "eu-north-1"),
            ("AWS_DEFAULT_REGION", "eu-south-1"),
            ("AWS_CONFIG_FILE", config),
        ]);
        assert_eq!(
            configured_region(Some("us-west-1"), &all)
                .unwrap()
                .as_deref(),
            Some("us-west-1")
        );
        assert_eq!(
            configured_region(None, &all).unwrap().as_deref(),
            Some("eu-north-1")
        );
        let default_only = env_of(&[
            ("AWS_DEFAULT_REGION", "eu-south-1"),
            ("AWS_CONFIG_FILE", config),
        ]);
        assert_eq!(
            configured_region(None, &default_only).unwrap().as_deref(),
            Some("eu-south-1")
        );
        let profile_only = env_of(&[("AWS_CONFIG_FILE", config)]);
        assert_eq!(
            configured_region(None, &profile_only).unwrap().as_deref(),
            Some("ap-east-1")
        );
        let nothing = env_of(&[("AWS_CONFIG_FILE", "/nonexistent")]);
        assert_eq!(configured_region(None, &nothing).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
