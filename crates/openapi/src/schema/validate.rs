//! Validation of an object against a structural schema, with upstream's error reasons and
//! wording (kube-openapi's validator as apiextensions converts its errors to field errors).

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;
use serde_json::{Map, Value};

use super::path;

/// One failed check, shaped like a `metav1.StatusCause`: `reason` is the cause type
/// (`FieldValueInvalid`, `FieldValueRequired`, ...), `message` upstream's error body
/// (`Invalid value: "x": spec.replicas in body must be of type integer: "string"`), `field`
/// the path (`spec.replicas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// Every violation of `schema` in `object`.
pub fn validate(schema: &Value, object: &Value) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    check(schema, object, "", &mut errors);
    errors
}

fn error(reason: &str, at: &str, message: String) -> ValidationError {
    ValidationError {
        reason: reason.into(),
        message,
        field: at.into(),
    }
}

fn invalid(at: &str, value: &Value, detail: &str) -> ValidationError {
    error(
        "FieldValueInvalid",
        at,
        format!("Invalid value: {}: {detail}", show(value)),
    )
}

fn type_invalid(at: &str, value: &Value, expected: &str) -> ValidationError {
    let detail = format!(
        "{} in body must be of type {expected}: \"{}\"",
        subject(at),
        type_name(value)
    );
    error(
        "FieldValueTypeInvalid",
        at,
        format!("Invalid value: {}: {detail}", show(value)),
    )
}

/// How a path is named inside kube-openapi messages.
fn subject(at: &str) -> &str {
    if at.is_empty() { "<root>" } else { at }
}

/// A value as upstream prints it in field errors: strings quoted, numbers plain.
fn show(value: &Value) -> String {
    match value {
        Value::Number(n) if n.is_f64() => n.as_f64().map_or_else(|| n.to_string(), number),
        other => other.to_string(),
    }
}

/// Go's `%v` of a float64 for the integral values that schemas mostly use.
fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(value: &Value) -> bool {
    value.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn type_matches(ty: &str, value: &Value) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn check(schema: &Value, value: &Value, at: &str, out: &mut Vec<ValidationError>) {
    let ty = schema.get("type").and_then(Value::as_str);
    if value.is_null() {
        if let Some(ty) = ty
            && !flag(schema, "nullable")
        {
            out.push(type_invalid(at, value, ty));
        }
        return;
    }
    if let Some(ty) = ty {
        if !type_matches(ty, value) {
            out.push(type_invalid(at, value, ty));
            return;
        }
    } else if flag(schema, "x-kubernetes-int-or-string")
        && !(is_integer(value) || value.is_string())
    {
        out.push(type_invalid(at, value, "integer,string"));
        return;
    }
    check_format(schema, value, at, out);
    check_enum(schema, value, at, out);
    match value {
        Value::Number(_) => check_number(schema, value, at, out),
        Value::String(s) => check_string(schema, s, value, at, out),
        Value::Array(items) => check_array(schema, items, value, at, out),
        Value::Object(map) => check_object(schema, map, value, at, out),
        _ => {}
    }
    check_composition(schema, value, at, out);
}

fn check_format(schema: &Value, value: &Value, at: &str, out: &mut Vec<ValidationError>) {
    let Some(format) = schema.get("format").and_then(Value::as_str) else {
        return;
    };
    let ok = match (format, value) {
        ("int32", Value::Number(_)) => {
            value.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) || !is_integer(value)
        }
        ("int64", Value::Number(n)) => n.is_i64() || !is_integer(value) || n.is_f64(),
        ("date-time", Value::String(s)) => is_date_time(s),
        ("date", Value::String(s)) => is_date(s),
        _ => true,
    };
    if !ok {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => show(other),
        };
        let detail = format!(
            "{} in body must be of type {format}: \"{shown}\"",
            subject(at)
        );
        out.push(error(
            "FieldValueTypeInvalid",
            at,
            format!("Invalid value: {}: {detail}", show(value)),
        ));
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// `2006-01-02`.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2)
        && (1..=12).contains(&m.parse::<u8>().unwrap_or(0)) && (1..=31).contains(&d.parse::<u8>().unwrap_or(0)))
}

/// RFC 3339: `2006-01-02T15:04:05[.frac](Z|±hh:mm)`.
fn is_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once(['T', 't', ' ']) else {
        return false;
    };
    if !is_date(date) || time.len() < 9 {
        return false;
    }
    let (clock, rest) = time.split_at(8);
    let hms: Vec<&str> = clock.split(':').collect();
    if !matches!(hms.as_slice(), [h, m, sec] if digits(h, 2) && digits(m, 2) && digits(sec, 2)) {
        return false;
    }
    let rest = match rest.strip_prefix('.') {
        Some(frac) => frac.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    match rest {
        "Z" | "z" => true,
        zone => {
            zone.len() == 6
                && zone.starts_with(['+', '-'])
                && matches!(zone[1..].split_once(':'), Some((h, m)) if digits(h, 2) && digits(m, 2))
        }
    }
}

/// JSON equality with 1 == 1.0.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn check_enum(schema: &Value, value: &Value, at: &str, out: &mut Vec<ValidationError>) {
    let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    if !allowed.iter().any(|a| same(a, value)) {
        let supported: Vec<String> = allowed.iter().map(show).collect();
        out.push(error(
            "FieldValueNotSupported",
            at,
            format!(
                "Unsupported value: {}: supported values: {}",
                show(value),
                supported.join(", ")
            ),
        ));
    }
}

fn check_number(schema: &Value, value: &Value, at: &str, out: &mut Vec<ValidationError>) {
    let Some(n) = value.as_f64() else {
        return;
    };
    let s = subject(at);
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        if flag(schema, "exclusiveMinimum") && n <= min {
            out.push(invalid(
                at,
                value,
                &format!("{s} in body should be greater than {}", number(min)),
            ));
        } else if n < min {
            out.push(invalid(
                at,
                value,
                &format!(
                    "{s} in body should be greater than or equal to {}",
                    number(min)
                ),
            ));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        if flag(schema, "exclusiveMaximum") && n >= max {
            out.push(invalid(
                at,
                value,
                &format!("{s} in body should be less than {}", number(max)),
            ));
        } else if n > max {
            out.push(invalid(
                at,
                value,
                &format!(
                    "{s} in body should be less than or equal to {}",
                    number(max)
                ),
            ));
        }
    }
    if let Some(factor) = schema.get("multipleOf").and_then(Value::as_f64)
        && factor > 0.0
        && (n / factor).fract() != 0.0
    {
        out.push(invalid(
            at,
            value,
            &format!("{s} in body should be a multiple of {}", number(factor)),
        ));
    }
}

fn check_string(schema: &Value, s: &str, value: &Value, at: &str, out: &mut Vec<ValidationError>) {
    let length = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && length > max
    {
        let unit = if max == 1 { "byte" } else { "bytes" };
        out.push(error(
            "FieldValueTooLong",
            at,
            format!("Too long: may not be more than {max} {unit}"),
        ));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && length < min
    {
        out.push(invalid(
            at,
            value,
            &format!(
                "{} in body should be at least {min} chars long",
                subject(at)
            ),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && matches(pattern, s) == Some(false)
    {
        out.push(invalid(
            at,
            value,
            &format!("{} in body should match '{pattern}'", subject(at)),
        ));
    }
}

/// Whether `s` matches `pattern`; None when the pattern does not compile (the CRD's own
/// validation rejects those, so there is nothing to report here). Compiled patterns are kept
/// per thread: the same few patterns are checked against every item of every request.
fn matches(pattern: &str, s: &str) -> Option<bool> {
    thread_local! {
        static COMPILED: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
    }
    COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() > 1024 {
            cache.clear();
        }
        cache
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).ok())
            .as_ref()
            .map(|re| re.is_match(s))
    })
}

fn check_array(
    schema: &Value,
    items: &[Value],
    value: &Value,
    at: &str,
    out: &mut Vec<ValidationError>,
) {
    let count = items.len() as u64;
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && count > max
    {
        out.push(error(
            "FieldValueTooMany",
            at,
            format!("Too many: {count}: must have at most {max} items"),
        ));
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && count < min
    {
        out.push(invalid(
            at,
            value,
            &format!("{} in body should have at least {min} items", subject(at)),
        ));
    }
    let list_type = schema.get("x-kubernetes-list-type").and_then(Value::as_str);
    if flag(schema, "uniqueItems") || list_type == Some("set") {
        for (i, item) in items.iter().enumerate() {
            if items[..i].iter().any(|earlier| same(earlier, item)) {
                out.push(error(
                    "FieldValueDuplicate",
                    &path::index(at, i),
                    format!("Duplicate value: {}", show(item)),
                ));
            }
        }
    }
    if list_type == Some("map") {
        let keys: Vec<&str> = schema
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|k| k.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let key_of = |item: &Value| -> Map<String, Value> {
            keys.iter()
                .filter_map(|k| item.get(*k).map(|v| ((*k).to_string(), v.clone())))
                .collect()
        };
        for (i, item) in items.iter().enumerate() {
            let key = key_of(item);
            if !keys.is_empty() && items[..i].iter().any(|earlier| key_of(earlier) == key) {
                out.push(error(
                    "FieldValueDuplicate",
                    &path::index(at, i),
                    format!("Duplicate value: {}", Value::Object(key)),
                ));
            }
        }
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &path::index(at, i), out);
        }
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    value: &Value,
    at: &str,
    out: &mut Vec<ValidationError>,
) {
    let count = map.len() as u64;
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && count > max
    {
        out.push(error(
            "FieldValueTooMany",
            at,
            format!("Too many: {count}: must have at most {max} items"),
        ));
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
        && count < min
    {
        out.push(invalid(
            at,
            value,
            &format!(
                "{} in body should have at least {min} properties",
                subject(at)
            ),
        ));
    }
    // Embedded objects must say what they are (apiextensions' validateEmbeddedResource).
    if flag(schema, "x-kubernetes-embedded-resource") {
        for name in ["apiVersion", "kind"] {
            if map
                .get(name)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                out.push(error(
                    "FieldValueRequired",
                    &path::key(at, name),
                    "Required value: must not be empty".into(),
                ));
            }
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                out.push(error(
                    "FieldValueRequired",
                    &path::key(at, name),
                    "Required value".into(),
                ));
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (name, child) in map {
        let child_at = path::key(at, name);
        match (properties.and_then(|p| p.get(name)), additional) {
            (Some(property), _) => check(property, child, &child_at, out),
            (None, Some(additional)) => check(additional, child, &child_at, out),
            (None, None) => {}
        }
    }
}

fn passes(schema: &Value, value: &Value, at: &str) -> bool {
    let mut errors = Vec::new();
    check(schema, value, at, &mut errors);
    errors.is_empty()
}

fn check_composition(schema: &Value, value: &Value, at: &str, out: &mut Vec<ValidationError>) {
    let s = subject(at);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(sub, value, at, out);
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|sub| passes(sub, value, at))
    {
        out.push(invalid(
            at,
            value,
            &format!("{s} in body must validate at least one schema (anyOf)"),
        ));
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array)
        && one.iter().filter(|sub| passes(sub, value, at)).count() != 1
    {
        out.push(invalid(
            at,
            value,
            &format!("{s} in body must validate one and only one schema (oneOf)"),
        ));
    }
    if let Some(not) = schema.get("not")
        && passes(not, value, at)
    {
        out.push(invalid(
            at,
            value,
            &format!("{s} in body should not validate the schema (not)"),
        ));
    }
}
