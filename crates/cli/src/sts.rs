//! `--role-arn`: STS AssumeRole (query protocol, SigV4-signed POST), as `aws eks get-token
//! --role-arn` does before presigning with the session's credentials.

use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use http_body_util::{BodyExt, Full};

use super::base_url;
use super::credentials::AwsCredentials;

const TIMEOUT: Duration = Duration::from_secs(30);

pub async fn assume_role(
    endpoint: &str,
    region: &str,
    credentials: &AwsCredentials,
    role_arn: &str,
    session_name: &str,
) -> anyhow::Result<AwsCredentials> {
    let url = base_url(endpoint);
    let body = form_body(role_arn, session_name);
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "keelson-get-token",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        std::iter::once(("content-type", content_type)),
        SignableBody::Bytes(body.as_bytes()),
    )?;
    let (instructions, _signature) = sign(signable, &params)?.into_parts();
    let mut request = http::Request::post(url.as_str())
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(bytes::Bytes::from(body)))
        .context("building the AssumeRole request")?;
    instructions.apply_to_request_http1x(&mut request);

    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector);
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .context("STS did not answer in time")?
        .with_context(|| format!("calling STS at {endpoint}"))?;
    let status = response.status();
    let answer = tokio::time::timeout(TIMEOUT, response.into_body().collect())
        .await
        .context("STS did not answer in time")??
        .to_bytes();
    let answer = String::from_utf8_lossy(&answer);
    if !status.is_success() {
        let code = element(&answer, "Code").unwrap_or_default();
        let message = element(&answer, "Message").unwrap_or_default();
        bail!("STS answered {status}: {code} {message}");
    }
    parse_credentials(&answer)
}

fn form_body(role_arn: &str, session_name: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRole")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role_arn)
        .append_pair("RoleSessionName", session_name)
        .finish()
}

/// The text of the first `<name>` element, unescaped.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// The session credentials of an AssumeRoleResponse.
pub fn parse_credentials(xml: &str) -> anyhow::Result<AwsCredentials> {
    let credentials = element(xml, "Credentials")
        .map(|inner| format!("<Credentials>{inner}</Credentials>"))
        .context("AssumeRole answer has no Credentials")?;
    let field = |name: &str| {
        element(&credentials, name).with_context(|| format!("AssumeRole answer has no {name}"))
    };
    Ok(AwsCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_credentials_are_read_from_the_answer() {
        let xml = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/EKSGetTokenAuth</Arn><AssumedRoleId>AROA:EKSGetTokenAuth</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>se/cret+&amp;</SecretAccessKey>
      <SessionToken>tok</SessionToken>
      <Expiration>2026-01-01T00:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
</AssumeRoleResponse>"#;
        let credentials = parse_credentials(xml).unwrap();
        assert_eq!(credentials.access_key_id, "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key, "se/cret+&");
        assert_eq!(credentials.session_token.as_deref(), Some("tok"));
        assert!(parse_credentials("<ErrorResponse/>").is_err());
    }

    #[test]
    fn the_request_names_the_role_and_session() {
        let body = form_body("arn:aws:iam::1:role/team/Dev", "EKSGetTokenAuth");
        assert_eq!(
            body,
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fteam%2FDev&RoleSessionName=EKSGetTokenAuth"
        );
    }
}
