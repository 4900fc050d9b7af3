//! Whether a control plane answers: `GET /readyz` over HTTPS, trusting only the cluster's CA.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The cluster CA certificate `keelson control-plane` writes into its data directory.
pub fn ca_path(cluster_dir: &Path) -> std::path::PathBuf {
    cluster_dir.join("pki").join("ca.crt")
}

/// True when `https://127.0.0.1:port/readyz` answers 200 with a certificate from `ca_pem`.
pub async fn ready(port: u16, ca_pem: &str) -> bool {
    tokio::time::timeout(Duration::from_secs(2), probe(port, ca_pem))
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

async fn probe(port: u16, ca_pem: &str) -> Option<bool> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.ok()?).ok()?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .ok()?;
    let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
    let mut tls = connector.connect(name, tcp).await.ok()?;
    let request =
        format!("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    tls.read_exact(&mut head).await.ok()?;
    Some(&head == b"HTTP/1.1 200")
}
