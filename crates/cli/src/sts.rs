//! STS over the query protocol (SigV4-signed form POSTs): AssumeRole, as `aws eks get-token
//! --role-arn` does before presigning with the session's credentials, and GetCallerIdentity,
//! which names the account a cluster's default role lives in.

use crate::credentials::AwsCredentials;
use crate::http_client::{Call, SignedClient};
use crate::{CliError, base_url};

const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Who the credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// A client of one STS endpoint.
pub struct StsClient {
    endpoint: String,
    http: SignedClient,
}

impl StsClient {
    pub fn new(
        endpoint: &str,
        region: &str,
        credentials: AwsCredentials,
        ca_bundle: Option<&std::path::Path>,
    ) -> Result<StsClient, CliError> {
        Ok(StsClient {
            endpoint: endpoint.to_string(),
            http: SignedClient::new("sts", region, credentials, ca_bundle)?,
        })
    }

    pub async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
    ) -> Result<AwsCredentials, CliError> {
        let answer = self
            .call("AssumeRole", form_body(role_arn, session_name))
            .await?;
        parse_credentials(&answer)
    }

    pub async fn get_caller_identity(&self) -> Result<CallerIdentity, CliError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "GetCallerIdentity")
            .append_pair("Version", "2011-06-15")
            .finish();
        let answer = self.call("GetCallerIdentity", body).await?;
        parse_caller_identity(&answer)
    }

    async fn call(&self, operation: &'static str, body: String) -> Result<String, CliError> {
        let url = base_url(&self.endpoint);
        let response = self
            .http
            .send(Call {
                method: http::Method::POST,
                url: &url,
                headers: vec![("content-type", CONTENT_TYPE.to_string())],
                body: body.into_bytes(),
            })
            .await?;
        let status = response.status();
        let answer = String::from_utf8_lossy(response.body()).into_owned();
        if !status.is_success() {
            return Err(CliError::Service {
                service: "STS",
                operation,
                status: status.as_u16(),
                code: element(&answer, "Code").unwrap_or_else(|| status.to_string()),
                message: element(&answer, "Message").unwrap_or_default(),
            });
        }
        Ok(answer)
    }
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
pub fn parse_credentials(xml: &str) -> Result<AwsCredentials, CliError> {
    let missing = |name: &str| CliError::Answer {
        service: "STS",
        message: format!("AssumeRole answer has no {name}"),
    };
    let credentials = element(xml, "Credentials")
        .map(|inner| format!("<Credentials>{inner}</Credentials>"))
        .ok_or_else(|| missing("Credentials"))?;
    let field = |name: &str| element(&credentials, name).ok_or_else(|| missing(name));
    Ok(AwsCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
    })
}

/// The identity of a GetCallerIdentityResponse.
pub fn parse_caller_identity(xml: &str) -> Result<CallerIdentity, CliError> {
    let field = |name: &str| {
        element(xml, name).ok_or_else(|| CliError::Answer {
            service: "STS",
            message: format!("GetCallerIdentity answer has no {name}"),
        })
    };
    Ok(CallerIdentity {
        account: field("Account")?,
        arn: field("Arn")?,
        user_id: field("UserId")?,
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
    fn the_caller_identity_is_read_from_the_answer() {
        let xml = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/admin</Arn>
    <UserId>AIDAEXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
</GetCallerIdentityResponse>"#;
        let identity = parse_caller_identity(xml).unwrap();
        assert_eq!(identity.account, "123456789012");
        assert_eq!(identity.arn, "arn:aws:iam::123456789012:user/admin");
        assert_eq!(identity.user_id, "AIDAEXAMPLE");
        assert!(parse_caller_identity("<ErrorResponse/>").is_err());
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
