use std::net::SocketAddr;

/// Why the front door could not serve.
#[derive(Debug, thiserror::Error)]
pub enum RegionalError {
    #[error("plain HTTP is only served on loopback addresses; {0} needs TLS")]
    PlainHttpOffLoopback(SocketAddr),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS configuration: {0}")]
    Tls(String),
}
