//! A throwaway single-member etcd for integration tests: free loopback ports, a temporary data
//! directory, killed and removed on drop.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keelson_store_etcd::{EtcdOptions, EtcdStore};
use tempfile::TempDir;

/// How long a fresh member may take to elect itself and answer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running etcd member owned by a test.
pub struct EtcdServer {
    child: Option<Child>,
    root: TempDir,
    client_port: u16,
    peer_port: u16,
}

impl EtcdServer {
    /// Start etcd on free ports with an empty data directory and wait until it answers.
    /// Panics (failing the test) if etcd is not installed or does not come up.
    pub async fn start() -> Self {
        let root = tempfile::Builder::new()
            .prefix("keelson-etcd-")
            .tempdir()
            .expect("temp dir");
        let (client_port, peer_port) = free_ports();
        let mut server = Self {
            child: None,
            root,
            client_port,
            peer_port,
        };
        server.launch().await;
        server
    }

    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Options for a store in this etcd under key namespace `prefix`.
    pub fn options(&self, prefix: &str) -> EtcdOptions {
        EtcdOptions {
            endpoints: vec![self.client_url()],
            prefix: prefix.to_owned(),
            connect_timeout: Duration::from_secs(10),
        }
    }

    pub async fn store(&self, prefix: &str) -> EtcdStore {
        EtcdStore::connect(self.options(prefix))
            .await
            .expect("connect to the test etcd")
    }

    /// Kill etcd (SIGKILL: no graceful shutdown, as in a crash) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start etcd again on the same data directory and ports.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    async fn launch(&mut self) {
        let binary = etcd_binary();
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("etcd log file");
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&binary)
            .arg("--name=keelson-test")
            .arg(format!("--data-dir={}", self.root.path().join("data").display()))
            .arg(format!("--listen-client-urls={}", self.client_url()))
            .arg(format!("--advertise-client-urls={}", self.client_url()))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=keelson-test={peer_url}"))
            .arg("--initial-cluster-state=new")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run etcd ({binary:?}): {err}. The etcd tests need Debian's etcd-server \
                     (apt-get install -y etcd-server) or KEELSON_ETCD_BIN pointing at an etcd binary"
                )
            });
        self.child = Some(child);
        self.await_ready().await;
    }

    async fn await_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                panic!(
                    "etcd exited during startup ({status}); its log:\n{}",
                    self.log()
                );
            }
            let mut options = self.options("");
            options.connect_timeout = Duration::from_secs(1);
            match EtcdStore::connect(options).await {
                Ok(_) => return,
                Err(err) if Instant::now() >= deadline => {
                    panic!(
                        "etcd did not answer within {STARTUP_TIMEOUT:?}: {err}; its log:\n{}",
                        self.log()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    fn log_path(&self) -> PathBuf {
        self.root.path().join("etcd.log")
    }

    /// The end of etcd's log, for failure messages.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        // Kill before `root` (a field, dropped after this) removes the data directory.
        self.kill();
    }
}

fn etcd_binary() -> PathBuf {
    std::env::var_os("KEELSON_ETCD_BIN").map_or_else(|| PathBuf::from("etcd"), PathBuf::from)
}

/// Two distinct free loopback ports. Both listeners are held until both are chosen so the
/// kernel cannot hand out the same port twice; another process may still take one before
/// etcd binds it, which is unlikely enough for tests.
fn free_ports() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let second = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let ports = (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    );
    drop((first, second));
    ports
}

/// Run `future` with a deadline, so a hung etcd fails the test instead of stalling it.
pub async fn within<T>(seconds: u64, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {seconds} s"))
}
