//! AWS's query protocol as IAM and STS speak it: form-encoded parameters (POST body or query
//! string) in, XML documents out.

use std::collections::BTreeMap;

use bytes::Bytes;
use keelson_aws_core::xml_escape;

use crate::error::{IamError, Result};

/// The id the front door gave this request (`x-amzn-RequestId`), or a fresh one.
pub fn request_id<B>(request: &http::Request<B>) -> String {
    request
        .headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(random_request_id)
}

pub fn random_request_id() -> String {
    let hex = crate::ids::random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub struct QueryRequest {
    pub action: String,
    params: BTreeMap<String, String>,
}

impl QueryRequest {
    /// Parameters from the query string and, for form posts, the body (the body wins).
    pub fn parse(request: &http::Request<Bytes>) -> QueryRequest {
        let mut params = BTreeMap::new();
        if let Some(query) = request.uri().query() {
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                params.insert(k.into_owned(), v.into_owned());
            }
        }
        let is_form = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form || (request.method() == http::Method::POST && !request.body().is_empty()) {
            for (k, v) in form_urlencoded::parse(request.body()) {
                params.insert(k.into_owned(), v.into_owned());
            }
        }
        let action = params.remove("Action").unwrap_or_default();
        QueryRequest { action, params }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| {
            IamError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| IamError::validation(format!("{name} must be a number")))
            })
            .transpose()
    }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Builds the body of one `<…Result>` element.
#[derive(Default)]
pub struct Xml(String);

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    /// `<name>escaped text</name>`
    pub fn text(&mut self, name: &str, value: &str) -> &mut Xml {
        self.0
            .push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
        self
    }

    pub fn optional(&mut self, name: &str, value: Option<&str>) -> &mut Xml {
        if let Some(value) = value {
            self.text(name, value);
        }
        self
    }

    /// `<name>…</name>` with nested content.
    pub fn element(&mut self, name: &str, inner: impl FnOnce(&mut Xml)) -> &mut Xml {
        self.0.push_str(&format!("<{name}>"));
        inner(self);
        self.0.push_str(&format!("</{name}>"));
        self
    }

    /// `<name><member>…</member>…</name>`, as the query protocol renders lists.
    pub fn members<T>(
        &mut self,
        name: &str,
        items: &[T],
        mut each: impl FnMut(&mut Xml, &T),
    ) -> &mut Xml {
        self.element(name, |xml| {
            for item in items {
                xml.element("member", |xml| each(xml, item));
            }
        })
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `<{Action}Response xmlns=…><{Action}Result>…</{Action}Result><ResponseMetadata>…`
pub fn response(
    namespace: &str,
    action: &str,
    result: Option<String>,
    request_id: &str,
) -> http::Response<Bytes> {
    let result = result
        .map(|r| format!("<{action}Result>{r}</{action}Result>"))
        .unwrap_or_default();
    let body = format!(
        "<{action}Response xmlns=\"{namespace}\">{result}<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        xml_escape(request_id)
    );
    http::Response::builder()
        .status(200)
        .header("content-type", "text/xml")
        .header("x-amzn-RequestId", request_id)
        .body(Bytes::from(body))
        .expect("static header names")
}

/// IAM returns policy documents URL-encoded (botocore decodes them).
pub fn encode_document(document: &str) -> String {
    percent_encoding::utf8_percent_encode(document, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Marker/MaxItems pagination over items sorted by `key`.
pub fn paginate<T>(
    items: Vec<T>,
    query: &QueryRequest,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>)> {
    let max = query.integer("MaxItems")?.unwrap_or(100);
    if !(1..=1000).contains(&max) {
        return Err(IamError::validation("MaxItems must be between 1 and 1000"));
    }
    let marker = query.get("Marker");
    let mut remaining: Vec<T> = items
        .into_iter()
        .filter(|item| marker.is_none_or(|m| key(item).as_str() >= m))
        .collect();
    let next = if remaining.len() > max as usize {
        let rest = remaining.split_off(max as usize);
        Some(key(&rest[0]))
    } else {
        None
    };
    Ok((remaining, next))
}

pub fn truncation(xml: &mut Xml, next: &Option<String>) {
    xml.text("IsTruncated", if next.is_some() { "true" } else { "false" });
    xml.optional("Marker", next.as_deref());
}
