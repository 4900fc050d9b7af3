use bytes::Bytes;
use serde_json::{Map, Value};

/// An error as AWS services answer it: an HTTP status, an error code (the exception's name) and a
/// message, plus members some exceptions carry (e.g. `clusterName`).
#[derive(Clone, Debug, PartialEq)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub extra: Map<String, Value>,
}

impl AwsError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> AwsError {
        AwsError {
            status,
            code: code.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds a member to the rest-json body, e.g. `clusterName`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> AwsError {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Whether the client or the server is at fault, as the query protocol's `Type` says.
    pub fn is_sender_fault(&self) -> bool {
        self.status < 500
    }

    /// The rest-json rendering (EKS): `x-amzn-ErrorType` header and a JSON body with `message`.
    pub fn to_rest_json(&self, request_id: &str) -> http::Response<Bytes> {
        let mut body = self.extra.clone();
        body.insert("message".into(), Value::String(self.message.clone()));
        http::Response::builder()
            .status(self.status)
            .header("content-type", "application/json")
            .header("x-amzn-ErrorType", self.code.as_str())
            .header("x-amzn-RequestId", request_id)
            .body(Bytes::from(Value::Object(body).to_string()))
            .expect("static header names")
    }

    /// The query-protocol rendering (IAM, STS): an `ErrorResponse` XML document in the service's
    /// namespace, e.g. `https://iam.amazonaws.com/doc/2010-05-08/`.
    pub fn to_query_xml(&self, namespace: &str, request_id: &str) -> http::Response<Bytes> {
        let kind = if self.is_sender_fault() {
            "Sender"
        } else {
            "Receiver"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            xml_escape(namespace),
            xml_escape(&self.code),
            xml_escape(&self.message),
            xml_escape(request_id),
        );
        http::Response::builder()
            .status(self.status)
            .header("content-type", "text/xml")
            .header("x-amzn-RequestId", request_id)
            .body(Bytes::from(body))
            .expect("static header names")
    }
}

/// Escapes text for an XML element or attribute.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_json_carries_the_code_in_the_header_and_the_message_in_the_body() {
        let error = AwsError::new(
            404,
            "ResourceNotFoundException",
            "No cluster found for name: c.",
        )
        .with("clusterName", "c");
        let response = error.to_rest_json("r-1");
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.headers()["x-amzn-ErrorType"],
            "ResourceNotFoundException"
        );
        let body: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["message"], "No cluster found for name: c.");
        assert_eq!(body["clusterName"], "c");
    }

    #[test]
    fn query_xml_escapes_the_message() {
        let error = AwsError::new(400, "ValidationError", "name <a&b> is invalid");
        let response = error.to_query_xml("https://iam.amazonaws.com/doc/2010-05-08/", "r");
        let body = std::str::from_utf8(response.body()).unwrap();
        assert!(body.contains("<Type>Sender</Type><Code>ValidationError</Code>"));
        assert!(body.contains("name &lt;a&amp;b&gt; is invalid"));
    }
}
