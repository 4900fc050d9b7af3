//! A throwaway single-member etcd for the `etcd` store runs: Debian's binary on free loopback
//! ports with its data in a temp dir. Killed and removed when dropped.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::BenchError;
use crate::process::free_port;

pub struct Etcd {
    _child: Child,
    pub client_url: String,
    _dir: tempfile::TempDir,
}

impl Etcd {
    pub async fn start(binary: &Path, timeout: Duration) -> Result<Etcd, BenchError> {
        if !binary.exists() {
            return Err(BenchError::Etcd(format!(
                "{} not found (Debian: apt-get install etcd-server), or pass --stores embedded",
                binary.display()
            )));
        }
        let dir = tempfile::Builder::new()
            .prefix("keelson-bench-etcd")
            .tempdir()
            .map_err(BenchError::io("creating a temp dir"))?;
        let client_url = format!("http://127.0.0.1:{}", free_port()?);
        let peer_url = format!("http://127.0.0.1:{}", free_port()?);
        let log = std::fs::File::create(dir.path().join("etcd.log"))
            .map_err(BenchError::io("creating etcd.log"))?;
        let child = Command::new(binary)
            .arg("--name=bench")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=bench={peer_url}"))
            // Room for 150,000 pods plus history between compactions.
            .arg("--quota-backend-bytes=8589934592")
            .env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io(format!("spawning {}", binary.display())))?;
        let etcd = Etcd {
            _child: child,
            client_url,
            _dir: dir,
        };
        etcd.wait_healthy(timeout).await?;
        Ok(etcd)
    }

    /// `GET /health` over plain HTTP/1.1 (etcd's client port serves it next to gRPC).
    async fn wait_healthy(&self, timeout: Duration) -> Result<(), BenchError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.client_url.trim_start_matches("http://").to_string();
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
                let req =
                    format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                let mut buf = Vec::new();
                if s.write_all(req.as_bytes()).await.is_ok()
                    && s.read_to_end(&mut buf).await.is_ok()
                    && String::from_utf8_lossy(&buf).contains("\"health\":\"true\"")
                {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(BenchError::Timeout(format!(
            "etcd at {} not healthy in {timeout:?}",
            self.client_url
        )))
    }
}
