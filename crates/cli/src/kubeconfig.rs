//! Kubeconfig files in the shape `aws eks update-kubeconfig` writes (cluster, context and
//! user all named after the cluster ARN; the user runs an exec plugin that prints an EKS
//! token), merged into an existing file so its other entries survive.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use crate::eks::Cluster;
use crate::{CliError, Env};

pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

/// One cluster's kubeconfig entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The name of the cluster, context and user entries: the cluster ARN.
    pub name: String,
    pub server: String,
    pub certificate_authority_data: String,
    /// The exec plugin: `command args...` with `env` set.
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Entry {
    /// The entry for an ACTIVE (or UPDATING) cluster, signing in with `keelson get-token`
    /// run as `command` with `env` set (see `Session::exec_env`), in the region of the
    /// cluster's ARN.
    pub fn for_cluster(
        cluster: &Cluster,
        command: &str,
        env: Vec<(String, String)>,
    ) -> Result<Entry, CliError> {
        let name = cluster.name();
        if !matches!(cluster.status(), "ACTIVE" | "UPDATING") {
            return Err(CliError::Invalid(format!(
                "cluster {name:?} is {}: a kubeconfig needs an ACTIVE cluster",
                cluster.status()
            )));
        }
        let missing = |what: &str| CliError::Answer {
            service: "EKS",
            message: format!("cluster {name:?} has no {what}"),
        };
        let arn = cluster.arn().ok_or_else(|| missing("arn"))?;
        let region = cluster
            .region()
            .ok_or_else(|| missing("region in its ARN"))?;
        Ok(Entry {
            name: arn.to_string(),
            server: cluster
                .endpoint()
                .ok_or_else(|| missing("endpoint"))?
                .into(),
            certificate_authority_data: cluster
                .certificate_authority_data()
                .ok_or_else(|| missing("certificate authority"))?
                .into(),
            command: command.to_string(),
            args: ["get-token", "--cluster-name", name, "--region", region]
                .map(str::to_string)
                .to_vec(),
            env,
        })
    }
}

/// `--kubeconfig`, else the first file of KUBECONFIG, else ~/.kube/config.
pub fn path(flag: Option<&Path>, env: Env<'_>) -> Result<PathBuf, CliError> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    if let Some(first) = env("KUBECONFIG")
        .as_deref()
        .and_then(|list| list.split(':').find(|p| !p.is_empty()))
    {
        return Ok(PathBuf::from(first));
    }
    let home = env("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| CliError::Invalid("HOME is not set: pass --kubeconfig".into()))?;
    Ok(Path::new(&home).join(".kube").join("config"))
}

fn named(name: &str, key: &str, body: Value) -> Value {
    let mut item = Mapping::new();
    item.insert("name".into(), name.into());
    item.insert(key.into(), body);
    Value::Mapping(item)
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Mapping(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// Puts `item` into the list `key` of `config`, replacing the item of the same name.
fn upsert(config: &mut Mapping, key: &str, item: Value) -> Result<(), String> {
    let list = config
        .entry(key.into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if list.is_null() {
        *list = Value::Sequence(Vec::new());
    }
    let items = list
        .as_sequence_mut()
        .ok_or_else(|| format!("{key} is not a list"))?;
    let name = item["name"].clone();
    match items.iter_mut().find(|existing| existing["name"] == name) {
        Some(existing) => *existing = item,
        None => items.push(item),
    }
    Ok(())
}

/// `existing` (the file's parsed contents; null when there is none) with `entry` merged in,
/// and made the current context when `set_current`.
pub fn merge(existing: Value, entry: &Entry, set_current: bool) -> Result<Value, String> {
    let mut config = match existing {
        Value::Null => Mapping::new(),
        Value::Mapping(config) => config,
        _ => return Err("not a kubeconfig (expected a mapping)".into()),
    };
    config
        .entry("apiVersion".into())
        .or_insert_with(|| "v1".into());
    config
        .entry("kind".into())
        .or_insert_with(|| "Config".into());
    config
        .entry("preferences".into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    let cluster = map(vec![
        (
            "certificate-authority-data",
            entry.certificate_authority_data.as_str().into(),
        ),
        ("server", entry.server.as_str().into()),
    ]);
    upsert(
        &mut config,
        "clusters",
        named(&entry.name, "cluster", cluster),
    )?;
    let context = map(vec![
        ("cluster", entry.name.as_str().into()),
        ("user", entry.name.as_str().into()),
    ]);
    upsert(
        &mut config,
        "contexts",
        named(&entry.name, "context", context),
    )?;
    let mut exec = vec![
        ("apiVersion", EXEC_API_VERSION.into()),
        (
            "args",
            Value::Sequence(entry.args.iter().map(|a| a.as_str().into()).collect()),
        ),
        ("command", entry.command.as_str().into()),
    ];
    if !entry.env.is_empty() {
        let env = entry
            .env
            .iter()
            .map(|(name, value)| {
                map(vec![
                    ("name", name.as_str().into()),
                    ("value", value.as_str().into()),
                ])
            })
            .collect();
        exec.push(("env", Value::Sequence(env)));
    }
    let user = map(vec![("exec", map(exec))]);
    upsert(&mut config, "users", named(&entry.name, "user", user))?;
    if set_current {
        config.insert("current-context".into(), entry.name.as_str().into());
    }
    Ok(Value::Mapping(config))
}

/// Merges `entry` into the kubeconfig at `path` (creating it, private to its owner, when
/// absent) and replaces the file in one rename, so a reader never sees half of it.
pub fn write(path: &Path, entry: &Entry, set_current: bool) -> Result<(), CliError> {
    let invalid = |message: String| CliError::Kubeconfig {
        path: path.to_path_buf(),
        message,
    };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Value::Null,
        Ok(text) => serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(source) => {
            return Err(CliError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let merged = merge(existing, entry, set_current).map_err(invalid)?;
    let text = serde_yaml::to_string(&merged).map_err(|e| invalid(e.to_string()))?;
    let write_error = |source| CliError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(write_error)?;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{file_name}.keelson-{}", std::process::id()));
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(write_error)
}

#[cfg(test)]
#[path = "kubeconfig_tests.rs"]
mod tests;
