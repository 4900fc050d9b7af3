//! Following the config file: the EKS service replaces it (write then rename) whenever an
//! access entry or the authentication mode changes.

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::authenticator::AwsAuthenticator;

const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies one version of the file: a rename gives a new inode, an in-place write a
/// new mtime or size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    modified_ns: i128,
    len: u64,
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        inode: meta.ino(),
        modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        len: meta.len(),
    })
}

/// Poll the file until `shutdown`, reloading it whenever it changes.
pub async fn follow_config_file(authenticator: Arc<AwsAuthenticator>, shutdown: CancellationToken) {
    // Unknown at first, so the first poll re-reads the file: a version written between the
    // server's initial load and this task's start is not missed.
    let mut seen = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        let current = stamp(authenticator.path());
        if current != seen && current.is_some() {
            seen = current;
            authenticator.reload();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::authn::aws::config::load_cluster_auth_config;
    use crate::authn::aws::sts::HttpSts;

    fn document(entries: usize) -> String {
        let entries: Vec<_> = (0..entries)
            .map(|i| {
                serde_json::json!({"principalArn": format!("arn:aws:iam::1:user/u{i}"),
                    "username": format!("u{i}"), "kubernetesGroups": [], "type": "STANDARD",
                    "accessPolicies": []})
            })
            .collect();
        serde_json::json!({"clusterId": "c1", "stsEndpoints": ["http://127.0.0.1:1"],
            "authenticationMode": "API", "accessEntries": entries})
        .to_string()
    }

    /// As the EKS service writes it: beside the file, then renamed over it.
    fn replace(path: &std::path::Path, text: &str) {
        let partial = path.with_extension("partial");
        std::fs::write(&partial, text).unwrap();
        std::fs::rename(&partial, path).unwrap();
    }

    async fn wait_for(authenticator: &AwsAuthenticator, entries: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if authenticator.settings().file.access_entries.len() == entries {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[tokio::test]
    async fn changes_to_the_file_are_picked_up_and_bad_versions_ignored() {
        let dir = std::env::temp_dir().join(format!("keelson-aws-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("auth.json");
        replace(&path, &document(1));
        let authenticator = Arc::new(AwsAuthenticator::new(
            path.clone(),
            load_cluster_auth_config(&path).unwrap(),
            Arc::new(HttpSts::new().unwrap()),
        ));
        let shutdown = CancellationToken::new();
        let follower = tokio::spawn(follow_config_file(authenticator.clone(), shutdown.clone()));

        replace(&path, &document(3));
        assert!(wait_for(&authenticator, 3).await, "a new version is read");
        replace(&path, "{ half a document");
        tokio::time::sleep(POLL_INTERVAL * 2).await;
        assert_eq!(authenticator.settings().file.access_entries.len(), 3);
        std::fs::remove_file(&path).unwrap();
        tokio::time::sleep(POLL_INTERVAL * 2).await;
        assert_eq!(authenticator.settings().file.access_entries.len(), 3);
        replace(&path, &document(2));
        assert!(
            wait_for(&authenticator, 2).await,
            "a file that comes back is read"
        );

        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(2), follower)
            .await
            .expect("the follower stops on shutdown")
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
