//! RFC 6902 JSON patch. Semantics follow the RFC (strict pointers and indices, `add`
//! at the root replaces the document, `replace`/`test` of a missing member fail);
//! messages and limits follow upstream's evanphx/json-patch as the API server uses it.

use serde_json::Value;

use super::PatchError;
use super::gofmt::go_type_name;

/// Upstream's `maxJSONPatchOperations`.
pub const MAX_OPERATIONS: usize = 10_000;
/// Upstream's `JSONPatchMaxCopyBytes`: how much `copy` operations may add in total.
pub const MAX_COPY_BYTES: usize = 3 * 1024 * 1024;

/// A decoded JSON pointer: the path as written (for messages) and its reference tokens.
struct Pointer<'a> {
    text: &'a str,
    tokens: Vec<String>,
}

/// RFC 6901: `""` is the whole document; otherwise `/`-separated tokens with `~1` for
/// `/` and `~0` for `~`.
fn parse_pointer(text: &str) -> Option<Pointer<'_>> {
    if text.is_empty() {
        return Some(Pointer {
            text,
            tokens: Vec::new(),
        });
    }
    let rest = text.strip_prefix('/')?;
    let mut tokens = Vec::new();
    for raw in rest.split('/') {
        let mut token = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '~' {
                token.push(c);
                continue;
            }
            match chars.next() {
                Some('0') => token.push('~'),
                Some('1') => token.push('/'),
                _ => return None,
            }
        }
        tokens.push(token);
    }
    Some(Pointer { text, tokens })
}

/// An existing array index: `0` or digits without a leading zero.
fn parse_index(token: &str) -> Option<usize> {
    let digits_only = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

fn failed(message: String) -> PatchError {
    PatchError::JsonPatchFailed(message)
}

fn invalid_index(token: &str) -> String {
    format!("Unable to access invalid index: {token}: invalid index referenced")
}

fn get<'v>(doc: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    tokens.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get(token),
        Value::Array(items) => parse_index(token).and_then(|i| items.get(i)),
        _ => None,
    })
}

fn get_mut<'v>(doc: &'v mut Value, tokens: &[String]) -> Option<&'v mut Value> {
    tokens.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => parse_index(token).and_then(move |i| items.get_mut(i)),
        _ => None,
    })
}

/// The container holding the pointer's last token, and that token.
fn parent<'v, 'p>(
    doc: &'v mut Value,
    pointer: &'p Pointer<'_>,
) -> Option<(&'v mut Value, &'p str)> {
    let (last, init) = pointer.tokens.split_last()?;
    let container = get_mut(doc, init)?;
    matches!(container, Value::Object(_) | Value::Array(_)).then_some((container, last.as_str()))
}

fn add(doc: &mut Value, pointer: &Pointer<'_>, value: Value, op: &str) -> Result<(), PatchError> {
    if pointer.tokens.is_empty() {
        *doc = value;
        return Ok(());
    }
    let path = pointer.text;
    let Some((container, key)) = parent(doc, pointer) else {
        return Err(failed(format!(
            "{op} operation does not apply: doc is missing path: \"{path}\": missing value"
        )));
    };
    match container {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => {
            let index = if key == "-" {
                items.len()
            } else {
                match parse_index(key) {
                    Some(i) if i <= items.len() => i,
                    _ => {
                        return Err(failed(format!(
                            "error in {op} for path: '{path}': {}",
                            invalid_index(key)
                        )));
                    }
                }
            };
            items.insert(index, value);
        }
        // `parent` only returns objects and arrays.
        _ => {}
    }
    Ok(())
}

fn remove(doc: &mut Value, pointer: &Pointer<'_>, op: &str) -> Result<Value, PatchError> {
    let path = pointer.text;
    let Some((container, key)) = parent(doc, pointer) else {
        return Err(failed(format!(
            "{op} operation does not apply: doc is missing path: \"{path}\": missing value"
        )));
    };
    let removed = match container {
        Value::Object(map) => map
            .remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: missing value")),
        Value::Array(items) => match parse_index(key) {
            Some(i) if i < items.len() => Ok(items.remove(i)),
            _ => Err(invalid_index(key)),
        },
        _ => Err(invalid_index(key)),
    };
    removed.map_err(|e| failed(format!("error in {op} for path: '{path}': {e}")))
}

/// JSON equality for `test`: numbers compare by value (RFC 6902 section 4.6).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn member<'o>(
    op: &'o serde_json::Map<String, Value>,
    kind: &str,
    field: &str,
) -> Result<Pointer<'o>, PatchError> {
    let text = op.get(field).and_then(Value::as_str).ok_or_else(|| {
        failed(format!(
            "{kind} operation failed to decode {field}: operation, missing {field} field: missing value"
        ))
    })?;
    parse_pointer(text).ok_or_else(|| {
        failed(format!(
            "{kind} operation failed to decode {field}: invalid JSON pointer \"{text}\""
        ))
    })
}

fn value_of<'o>(
    op: &'o serde_json::Map<String, Value>,
    kind: &str,
) -> Result<&'o Value, PatchError> {
    op.get("value").ok_or_else(|| {
        failed(format!(
            "{kind} operation failed: operation, missing value field: missing value"
        ))
    })
}

fn serialized_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}

fn apply_one(
    doc: &mut Value,
    op: &serde_json::Map<String, Value>,
    copied: &mut usize,
) -> Result<(), PatchError> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    match kind {
        "add" => {
            let path = member(op, kind, "path")?;
            add(doc, &path, value_of(op, kind)?.clone(), kind)
        }
        "remove" => {
            let path = member(op, kind, "path")?;
            remove(doc, &path, kind).map(drop)
        }
        "replace" => {
            let path = member(op, kind, "path")?;
            let value = value_of(op, kind)?.clone();
            match get_mut(doc, &path.tokens) {
                Some(target) => {
                    *target = value;
                    Ok(())
                }
                None => Err(failed(format!(
                    "replace operation does not apply: doc is missing key: {}: missing value",
                    path.text
                ))),
            }
        }
        "move" => {
            let from = member(op, kind, "from")?;
            let path = member(op, kind, "path")?;
            if from.tokens == path.tokens {
                return get(doc, &from.tokens).map(drop).ok_or_else(|| {
                    failed(format!(
                        "move operation does not apply: doc is missing from path: {}: missing value",
                        from.text
                    ))
                });
            }
            if path.tokens.starts_with(&from.tokens) {
                return Err(failed(format!(
                    "move operation does not apply: cannot move {} into its own child {}",
                    from.text, path.text
                )));
            }
            if get(doc, &from.tokens).is_none() || from.tokens.is_empty() {
                return Err(failed(format!(
                    "move operation does not apply: doc is missing from path: {}: missing value",
                    from.text
                )));
            }
            let value = remove(doc, &from, kind)?;
            add(doc, &path, value, kind)
        }
        "copy" => {
            let from = member(op, kind, "from")?;
            let path = member(op, kind, "path")?;
            let value = get(doc, &from.tokens).cloned().ok_or_else(|| {
                failed(format!(
                    "copy operation does not apply: doc is missing from path: {}: missing value",
                    from.text
                ))
            })?;
            // Repeated copies can double the document each time; upstream caps the total.
            *copied += serialized_len(&value);
            if *copied > MAX_COPY_BYTES {
                return Err(PatchError::CopySizeExceeded {
                    size: *copied,
                    limit: MAX_COPY_BYTES,
                });
            }
            add(doc, &path, value, kind)
        }
        "test" => {
            let path = member(op, kind, "path")?;
            let expected = value_of(op, kind)?;
            match get(doc, &path.tokens) {
                Some(actual) if json_equal(actual, expected) => Ok(()),
                Some(_) => Err(failed(format!(
                    "testing value {} failed: test failed",
                    path.text
                ))),
                None => Err(failed(format!(
                    "test operation does not apply: is missing path: {}: missing value",
                    path.text
                ))),
            }
        }
        other => Err(failed(format!("Unexpected kind: {other}"))),
    }
}

/// Applies an RFC 6902 patch (a JSON array of operations) to `doc`.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    // Go decodes `null` as an empty patch.
    if patch.is_null() {
        return Ok(doc.clone());
    }
    let empty = serde_json::Map::new();
    let ops = patch.as_array().ok_or_else(|| {
        PatchError::InvalidJsonPatch(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            go_json_kind(patch)
        ))
    })?;
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            limit: MAX_OPERATIONS,
            count: ops.len(),
        });
    }
    let ops = ops
        .iter()
        .map(|op| match op {
            Value::Null => Ok(&empty),
            op => op.as_object().ok_or_else(|| {
                PatchError::InvalidJsonPatch(format!(
                    "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                    go_json_kind(op)
                ))
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut doc = doc.clone();
    let mut copied = 0;
    for op in ops {
        apply_one(&mut doc, op, &mut copied)?;
    }
    Ok(doc)
}

/// The JSON kind word Go's decoder uses in "cannot unmarshal X" messages.
fn go_json_kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => go_type_name(value),
    }
}
