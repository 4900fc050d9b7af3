//! The listener: plain HTTP (loopback only) or TLS, HTTP/1.1 and HTTP/2, one task per
//! connection, all stopped by the shutdown token.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{MAX_BODY, Regional, RegionalError};

impl Regional {
    /// Serves until `shutdown` is cancelled, then lets open connections finish (bounded).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), RegionalError> {
        let local = listener.local_addr()?;
        if self.tls.is_none() && !local.ip().is_loopback() {
            return Err(RegionalError::PlainHttpOffLoopback(local));
        }
        let acceptor = self.tls.clone().map(TlsAcceptor::from);
        let regional = Arc::new(self);
        let router = {
            let regional = regional.clone();
            Router::new()
                .merge(regional.public.clone())
                .fallback(move |request: Request| {
                    let regional = regional.clone();
                    async move { signed_api(&regional, request).await }
                })
        };
        let connections = TaskTracker::new();
        loop {
            let (socket, remote) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = socket.set_nodelay(true);
            let service = TowerToHyperService::new(router.clone());
            let acceptor = acceptor.clone();
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(acceptor) => {
                        let tls = match tokio::time::timeout(
                            Duration::from_secs(10),
                            acceptor.accept(socket),
                        )
                        .await
                        {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(err)) => {
                                tracing::debug!(%err, %remote, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                        let connection = builder.serve_connection(TokioIo::new(tls), service);
                        drive(connection, &shutdown).await;
                    }
                    None => {
                        let connection = builder.serve_connection(TokioIo::new(socket), service);
                        drive(connection, &shutdown).await;
                    }
                }
            });
        }
        connections.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), connections.wait()).await;
        Ok(())
    }
}

/// Runs one connection; on shutdown, finishes in-flight requests (up to 5 s) and closes it.
async fn drive<C>(connection: C, shutdown: &CancellationToken)
where
    C: std::future::Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>>
        + GracefulConnection,
{
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful();
            let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
        }
    }
}

/// hyper-util's two connection types (with and without TLS) share this one operation.
trait GracefulConnection {
    fn graceful(self: std::pin::Pin<&mut Self>);
}

impl<I, S, E> GracefulConnection for hyper_util::server::conn::auto::Connection<'_, I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: hyper::body::Body + Send + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn graceful(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

async fn signed_api(regional: &Regional, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return (
                http::StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            )
                .into_response();
        }
    };
    let response = regional
        .handle(http::Request::from_parts(parts, body))
        .await;
    response.map(axum::body::Body::from).into_response()
}
