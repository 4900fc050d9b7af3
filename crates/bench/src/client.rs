//! A minimal Kubernetes HTTPS client: rustls (ring) with the cluster CA as the only root and the
//! admin client certificate, HTTP/2 over a small pool of connections.
//!
//! Why hyper directly rather than reqwest: the bench must control exactly how many TCP/TLS
//! connections carry how many streams (1,000 watchers must be HTTP/2 streams, not 1,000 sockets),
//! and hyper 1 / tokio-rustls are already in the workspace (the API server uses them), so this
//! adds no new dependency tree.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::task::JoinSet;

use crate::BenchError;
use crate::kubeconfig::Credentials;

/// TLS settings and the address of one API server.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    tls: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl Endpoint {
    pub fn new(creds: &Credentials) -> Result<Self, BenchError> {
        let bad = |reason: String| BenchError::Invalid(format!("kubeconfig credentials: {reason}"));
        let authority = creds
            .server
            .strip_prefix("https://")
            .ok_or_else(|| bad(format!("server {} is not https", creds.server)))?;
        let authority = authority.trim_end_matches('/');
        let addr: SocketAddr = authority
            .parse()
            .map_err(|e| bad(format!("server address {authority}: {e}")))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&creds.ca_pem) {
            roots.add(cert.map_err(|e| bad(format!("CA: {e}")))?)?;
        }
        let chain = CertificateDer::pem_slice_iter(&creds.cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("client certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&creds.key_pem)
            .map_err(|e| bad(format!("client key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Endpoint {
            addr,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name: ServerName::IpAddress(addr.ip().into()),
        })
    }

    /// Open one HTTP/2 connection. Its driver task goes into `drivers`, so whoever owns the pool
    /// owns the connection's lifetime.
    pub async fn connect(&self, drivers: &mut JoinSet<()>) -> Result<Conn, BenchError> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(BenchError::io(format!("connecting to {}", self.addr)))?;
        tcp.set_nodelay(true)
            .map_err(BenchError::io("setting TCP_NODELAY"))?;
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(BenchError::io(format!("TLS handshake with {}", self.addr)))?;
        let (send, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            // Lists of 10,000 ConfigMaps are ~12 MB: the default 64 KiB windows would make the
            // client, not the server, the bottleneck.
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20)
            .max_frame_size(1 << 20)
            .handshake(TokioIo::new(tls))
            .await?;
        drivers.spawn(async move {
            // The connection ends when every SendRequest is dropped or the server goes away;
            // either way there is nobody left to tell.
            let _ = connection.await;
        });
        Ok(Conn {
            send,
            authority: self.addr.to_string(),
        })
    }
}

/// One HTTP/2 connection; cheap to clone, each clone multiplexes streams over the same socket.
#[derive(Clone)]
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Response<Incoming>, BenchError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("https://{}{}", self.authority, path))
            .header(http::header::ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| BenchError::Invalid(format!("building a request to {path}: {e}")))?;
        Ok(self.send.clone().send_request(request).await?)
    }

    /// Send and read the whole body; a non-2xx status is an error carrying the body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Bytes, BenchError> {
        let response = self.send(method.clone(), path, body).await?;
        let status = response.status();
        let body = collect(response.into_body()).await?;
        check(status, &method, path, &body)?;
        Ok(body)
    }

    /// Send and discard the body as it streams in (a 12 MB list need not be buffered by the
    /// client); returns the body size.
    pub async fn call_drain(&self, method: Method, path: &str) -> Result<usize, BenchError> {
        let response = self.send(method.clone(), path, None).await?;
        let status = response.status();
        if !status.is_success() {
            let text = collect(response.into_body()).await?;
            check(status, &method, path, &text)?;
            return Ok(0);
        }
        let mut body = response.into_body();
        let mut size = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                size += data.len();
            }
        }
        Ok(size)
    }
}

async fn collect(mut body: Incoming) -> Result<Bytes, BenchError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

fn check(status: StatusCode, method: &Method, path: &str, body: &[u8]) -> Result<(), BenchError> {
    if status.is_success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    Err(BenchError::Status {
        method: method.to_string(),
        path: path.to_string(),
        status: status.as_u16(),
        body: text,
    })
}

/// A fixed set of connections shared round-robin by client tasks, plus the tasks that drive them.
pub struct Pool {
    conns: Vec<Conn>,
    _drivers: JoinSet<()>,
}

impl Pool {
    pub async fn open(endpoint: &Endpoint, connections: usize) -> Result<Self, BenchError> {
        let mut drivers = JoinSet::new();
        let mut conns = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            conns.push(endpoint.connect(&mut drivers).await?);
        }
        Ok(Pool {
            conns,
            _drivers: drivers,
        })
    }

    /// The connection client `i` uses: clients spread evenly over the pool.
    pub fn conn(&self, i: usize) -> Conn {
        self.conns[i % self.conns.len()].clone()
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }
}

/// Pull one string field out of a JSON object by path, e.g. `["metadata", "resourceVersion"]`.
pub fn json_str(body: &[u8], path: &[&str], what: &str) -> Result<String, BenchError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| BenchError::Decode {
            path: what.to_string(),
            reason: e.to_string(),
        })?;
    let mut at = &value;
    for key in path {
        at = at.get(key).ok_or_else(|| BenchError::Decode {
            path: what.to_string(),
            reason: format!("no {}", path.join(".")),
        })?;
    }
    Ok(at.as_str().unwrap_or_default().to_string())
}
