//! The client against a fake EKS endpoint on loopback (a unit-test fake): pages are followed,
//! requests are signed for `eks`, errors come back with their code.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::EksClient;
use crate::credentials::AwsCredentials;

/// Serves each request with `answer(request line)` -> (status, x-amzn-ErrorType, body); records
/// the request heads it saw.
async fn fake(
    answer: fn(&str) -> (u16, Option<&'static str>, String),
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let (status, code, body) = answer(head.lines().next().unwrap_or_default());
            log.lock().unwrap().push(head);
            let error_header = code
                .map(|c| format!("x-amzn-ErrorType: {c}\r\n"))
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{error_header}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (url, seen)
}

fn client(url: &str) -> EksClient {
    let credentials = AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "secret".into(),
        session_token: None,
    };
    EksClient::new(url, "eu-west-1", credentials, None).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn list_clusters_follows_every_page() {
    let (url, seen) = fake(|line| match line {
        "GET /clusters?maxResults=100 HTTP/1.1" => (
            200,
            None,
            r#"{"clusters":["a","b"],"nextToken":"t+1"}"#.into(),
        ),
        "GET /clusters?maxResults=100&nextToken=t%2B1 HTTP/1.1" => {
            (200, None, r#"{"clusters":["c"]}"#.into())
        }
        other => (
            400,
            Some("InvalidRequestException"),
            format!(r#"{{"message":"{other}"}}"#),
        ),
    })
    .await;
    assert_eq!(client(&url).list_clusters().await.unwrap(), ["a", "b", "c"]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for head in seen.iter() {
        let auth = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            .expect("signed");
        assert!(auth.contains("Credential=AKIDEXAMPLE/"), "{auth}");
        assert!(auth.contains("/eu-west-1/eks/aws4_request"), "{auth}");
        assert!(!auth.contains("secret"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn service_errors_carry_their_code() {
    let (url, _) = fake(|_| {
        (
            404,
            Some("ResourceNotFoundException"),
            r#"{"message":"No cluster found for name: gone."}"#.into(),
        )
    })
    .await;
    let error = client(&url).describe_cluster("gone").await.unwrap_err();
    assert_eq!(error.code(), Some("ResourceNotFoundException"));
    assert!(
        error
            .to_string()
            .contains("No cluster found for name: gone.")
    );
}
