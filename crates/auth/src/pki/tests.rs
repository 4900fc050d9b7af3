use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn sans() -> Vec<String> {
    vec![
        "10.96.0.1".into(),
        "api.example.com".into(),
        "0.0.0.0".into(),
    ]
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn mode(dir: &Path, name: &str) -> u32 {
    std::fs::metadata(dir.join(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn creates_files_with_private_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let pki = ClusterPki::load_or_create(&dir, &sans()).unwrap();
    for key in [CA_KEY, SERVING_KEY, SA_KEY, ADMIN_KEY] {
        assert_eq!(mode(&dir, key), 0o600, "{key}");
    }
    for cert in [CA_CERT, SERVING_CERT, ADMIN_CERT, SA_PUB] {
        assert_eq!(mode(&dir, cert), 0o644, "{cert}");
    }
    assert_eq!(pki.ca_pem(), read(&dir, CA_CERT));
    assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    // No temp files left behind.
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.'))
    );
}

#[test]
fn ca_and_serving_cert_contents() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(tmp.path(), &sans()).unwrap();
    let (_, ca) = x509_parser::parse_x509_certificate(pki.ca_der()).unwrap();
    assert_eq!(
        ca.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        CA_COMMON_NAME
    );
    assert!(ca.is_ca());
    let lifetime = ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp();
    assert!(lifetime > 9 * 365 * 86400, "CA lasts about ten years");

    let der = certs::pem_to_der(pki.serving_cert_pem()).unwrap();
    let got = certs::cert_sans(&der).unwrap();
    for expected in [
        "10.96.0.1",
        "api.example.com",
        "localhost",
        "kubernetes.default.svc.cluster.local",
        "127.0.0.1",
    ] {
        assert!(
            got.contains(&certs::San::parse(expected).unwrap()),
            "{expected} in {got:?}"
        );
    }
    assert!(
        got.contains(&certs::San::Ip("10.96.0.1".parse().unwrap())),
        "IPs are IP SANs"
    );
    assert!(certs::leaf_is_current(&der, pki.ca_der()).unwrap());
}

#[test]
fn reload_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let first = ClusterPki::load_or_create(tmp.path(), &sans()).unwrap();
    let serving = first.serving_cert_pem().to_string();
    let sa = read(tmp.path(), SA_KEY);
    let second = ClusterPki::load_or_create(tmp.path(), &sans()).unwrap();
    assert_eq!(first.ca_pem(), second.ca_pem());
    assert_eq!(serving, second.serving_cert_pem());
    assert_eq!(first.admin_cert_pem(), second.admin_cert_pem());
    assert_eq!(sa, read(tmp.path(), SA_KEY));
    // Same signing key, so tokens survive a restart.
    assert_eq!(
        first.token_issuer("i").unwrap().key_id(),
        second.token_issuer("i").unwrap().key_id()
    );
}

#[test]
fn san_change_regenerates_only_serving_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let first = ClusterPki::load_or_create(tmp.path(), &sans()).unwrap();
    let serving_key = read(tmp.path(), SERVING_KEY);
    let mut more = sans();
    more.push("10.0.0.7".into());
    let second = ClusterPki::load_or_create(tmp.path(), &more).unwrap();
    assert_eq!(first.ca_pem(), second.ca_pem());
    assert_eq!(first.admin_cert_pem(), second.admin_cert_pem());
    assert_ne!(first.serving_cert_pem(), second.serving_cert_pem());
    assert_ne!(serving_key, read(tmp.path(), SERVING_KEY));
    let der = certs::pem_to_der(second.serving_cert_pem()).unwrap();
    assert!(
        certs::cert_sans(&der)
            .unwrap()
            .contains(&certs::San::Ip("10.0.0.7".parse().unwrap()))
    );
    assert!(certs::leaf_is_current(&der, second.ca_der()).unwrap());
}

#[test]
fn admin_cert_chains_to_ca_and_names_admin() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(tmp.path(), &[]).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca_der().to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
    let admin = CertificateDer::from_pem_slice(pki.admin_cert_pem().as_bytes()).unwrap();
    verifier
        .verify_client_cert(&admin, &[], UnixTime::now())
        .unwrap();

    let user = user_from_client_cert(&admin).unwrap();
    assert_eq!(user.username, "kubernetes-admin");
    assert_eq!(user.groups, vec!["system:masters"]);

    // A certificate from another CA does not verify.
    let other = tempfile::tempdir().unwrap();
    let foreign = ClusterPki::load_or_create(other.path(), &[]).unwrap();
    let foreign_admin =
        CertificateDer::from_pem_slice(foreign.admin_cert_pem().as_bytes()).unwrap();
    assert!(
        verifier
            .verify_client_cert(&foreign_admin, &[], UnixTime::now())
            .is_err()
    );
}

#[test]
fn issued_client_cert_carries_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(tmp.path(), &[]).unwrap();
    let (cert, _key) = pki
        .issue_client_cert("system:node:n1", &["system:nodes"])
        .unwrap();
    let der = certs::pem_to_der(&cert).unwrap();
    let user = user_from_client_cert(&der).unwrap();
    assert_eq!(user.username, "system:node:n1");
    assert_eq!(user.groups, vec!["system:nodes"]);
    assert!(pki.issue_client_cert("x", &["a", "b"]).is_err());
    assert!(user_from_client_cert(b"not a certificate").is_err());
}

#[test]
fn admin_kubeconfig_is_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(tmp.path(), &[]).unwrap();
    let yaml = pki
        .admin_kubeconfig("https://127.0.0.1:6443", "keelson")
        .unwrap();
    let config: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(config["current-context"], "keelson");
    assert_eq!(config["contexts"][0]["name"], "keelson");
    assert_eq!(config["contexts"][0]["context"]["cluster"], "keelson");
    assert_eq!(
        config["clusters"][0]["cluster"]["server"],
        "https://127.0.0.1:6443"
    );
    let decode = |v: &serde_json::Value| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        decode(&config["clusters"][0]["cluster"]["certificate-authority-data"]),
        pki.ca_pem()
    );
    assert_eq!(
        decode(&config["users"][0]["user"]["client-certificate-data"]),
        pki.admin_cert_pem()
    );
    assert_eq!(
        decode(&config["users"][0]["user"]["client-key-data"]),
        pki.admin_key_pem()
    );
}

/// Serve one TLS connection on loopback; report the peer certificate's user and the ALPN.
async fn handshake(
    pki: &ClusterPki,
    client_auth: Option<(String, String)>,
) -> Result<(Option<String>, Vec<u8>), String> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_tls_config().unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(socket).await.map_err(|e| e.to_string())?;
        let user = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| user_from_client_cert(c).unwrap().username);
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
        tls.shutdown().await.ok();
        Ok::<_, String>(user)
    });

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca_der().to_vec()))
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match client_auth {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let client = async {
        let mut tls = connector
            .connect(
                ServerName::try_from("kubernetes.default.svc").unwrap(),
                socket,
            )
            .await?;
        let alpn = tls
            .get_ref()
            .1
            .alpn_protocol()
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        tls.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(alpn)
    };
    let client_result = client.await.map_err(|e| e.to_string());
    let server_result = server.await.unwrap();
    Ok((server_result?, client_result?))
}

#[tokio::test]
async fn tls_handshake_without_client_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(tmp.path(), &[]).unwrap();
    let (user, alpn) = handshake(&pki, None).await.unwrap();
    assert_eq!(user, None);
    assert_eq!(alpn, b"h2");
}

#[tokio::test]
async fn tls_handshake_with_client_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(tmp.path(), &[]).unwrap();
    let auth = (
        pki.admin_cert_pem().to_string(),
        pki.admin_key_pem().to_string(),
    );
    let (user, _) = handshake(&pki, Some(auth)).await.unwrap();
    assert_eq!(user.as_deref(), Some("kubernetes-admin"));
}

#[tokio::test]
async fn tls_handshake_rejects_foreign_client_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(tmp.path(), &[]).unwrap();
    let other = tempfile::tempdir().unwrap();
    let foreign = ClusterPki::load_or_create(other.path(), &[]).unwrap();
    let auth = (
        foreign.admin_cert_pem().to_string(),
        foreign.admin_key_pem().to_string(),
    );
    assert!(handshake(&pki, Some(auth)).await.is_err());
}
