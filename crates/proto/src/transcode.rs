//! The generic protobuf → JSON walk over the generated field table. It reproduces what
//! upstream does to a body: gogo-protobuf unmarshals into the Go struct, encoding/json
//! marshals it. So a field's JSON depends on its Go shape: pointers that are present keep zero
//! values (`replicas: 0`), non-pointer zero values vanish under `omitempty`, non-pointer structs
//! are always rendered, embedded structs are flattened.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::ProtoError;
use crate::path::{Path, Seg};
use crate::schema::{self, Card, Field, Scalar, Special, Ty};
use crate::special::{self, SpecialError};
use crate::wire::{Reader, Value as Wire, WireError};

/// Deeper than any built-in kind (a pod template is about 12 levels); bounds the recursion.
pub(crate) const MAX_DEPTH: usize = 64;

/// Decodes message `index` from `bytes` (None: absent, render Go's zero value).
pub(crate) fn message(
    index: u16,
    bytes: Option<&[u8]>,
    path: &Path<'_>,
) -> Result<Value, ProtoError> {
    if path.depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep {
            path: path.to_string(),
            limit: MAX_DEPTH,
        });
    }
    let msg = schema::message(index);
    let special_result = match msg.special {
        Special::None => None,
        Special::Time => Some(special::time(bytes)),
        Special::MicroTime => Some(special::micro_time(bytes)),
        Special::Quantity => Some(special::quantity(bytes)),
        Special::IntOrString => Some(special::int_or_string(bytes)),
        Special::RawJson => Some(special::raw_json(bytes)),
        Special::NamedSlice => None,
    };
    if let Some(result) = special_result {
        return result.map_err(|e| special_error(e, path));
    }

    let collected = collect(msg.fields, bytes.unwrap_or_default(), path)?;
    if msg.special == Special::NamedSlice {
        // `type ExtraValue []string`: the JSON is the slice itself (nil → null).
        return match collected.into_iter().next() {
            Some(Some(Collected::Values(items))) => render_list(&msg.fields[0], items, path),
            _ => Ok(Value::Null),
        };
    }

    let mut object = Map::new();
    let mut inlined = Vec::new();
    for (field, found) in msg.fields.iter().zip(collected) {
        let child = path.child(Seg::Field(field.json));
        if let Some(value) = render(field, found, &child)? {
            if field.inline {
                inlined.push(value);
            } else {
                object.insert(field.json.to_owned(), value);
            }
        }
    }
    // Go promotes an embedded struct's fields unless the outer struct has the same name.
    for value in inlined {
        if let Value::Object(fields) = value {
            for (key, v) in fields {
                object.entry(key).or_insert(v);
            }
        }
    }
    Ok(Value::Object(object))
}

/// What the wire held for one field of the table.
enum Collected<'a> {
    /// Occurrences of a singular field, in order (last wins for scalars, messages merge).
    Single(Vec<Wire<'a>>),
    /// Elements of a repeated field (packed scalars already unpacked) or map entries.
    Values(Vec<Wire<'a>>),
}

fn collect<'a>(
    fields: &'static [Field],
    bytes: &'a [u8],
    path: &Path<'_>,
) -> Result<Vec<Option<Collected<'a>>>, ProtoError> {
    let mut found: Vec<Option<Collected<'a>>> = fields.iter().map(|_| None).collect();
    let mut reader = Reader::new(bytes);
    while let Some((num, value)) = reader.field().map_err(|e| wire_error(e, path))? {
        // Unknown field numbers are skipped, as gogo-generated Unmarshal does.
        let Some(i) = fields.iter().position(|f| f.num == num) else {
            continue;
        };
        let field = &fields[i];
        let child = path.child(Seg::Field(field.json));
        check_wire_type(field, &value, &child)?;
        match field.card {
            Card::Single => match &mut found[i] {
                Some(Collected::Single(list)) => list.push(value),
                slot => *slot = Some(Collected::Single(vec![value])),
            },
            Card::Repeated | Card::Map(_) => {
                let list = match &mut found[i] {
                    Some(Collected::Values(list)) => list,
                    slot => {
                        *slot = Some(Collected::Values(Vec::new()));
                        match slot {
                            Some(Collected::Values(list)) => list,
                            _ => unreachable!("just set"),
                        }
                    }
                };
                match (field.ty, value) {
                    // Packed encoding of a repeated varint field: a run of varints.
                    (Ty::Scalar(s), Wire::Bytes(b)) if is_varint(s) => {
                        let mut packed = Reader::new(b);
                        while !packed.is_empty() {
                            let v = packed.varint().map_err(|e| wire_error(e, &child))?;
                            list.push(Wire::Varint(v));
                        }
                    }
                    (_, v) => list.push(v),
                }
            }
        }
    }
    Ok(found)
}

fn is_varint(s: Scalar) -> bool {
    matches!(s, Scalar::Bool | Scalar::Int32 | Scalar::Int64)
}

fn check_wire_type(field: &Field, value: &Wire<'_>, path: &Path<'_>) -> Result<(), ProtoError> {
    let ok = match (field.card, field.ty, value) {
        (Card::Map(_), _, Wire::Bytes(_)) => true,
        (Card::Map(_), _, _) => false,
        (_, Ty::Message(_), Wire::Bytes(_)) => true,
        (_, Ty::Scalar(Scalar::String | Scalar::Bytes), Wire::Bytes(_)) => true,
        (_, Ty::Scalar(s), Wire::Varint(_)) => is_varint(s),
        (Card::Repeated, Ty::Scalar(s), Wire::Bytes(_)) => is_varint(s),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ProtoError::InvalidWireData {
            path: path.to_string(),
            reason: "wrong wire type",
        })
    }
}

/// The JSON of one field, or None when encoding/json would leave it out.
fn render(
    field: &Field,
    found: Option<Collected<'_>>,
    path: &Path<'_>,
) -> Result<Option<Value>, ProtoError> {
    match (field.card, found) {
        (Card::Single, Some(Collected::Single(occurrences))) => single(field, &occurrences, path),
        (Card::Single, _) => absent_single(field, path),
        (Card::Repeated, Some(Collected::Values(items))) => {
            render_list(field, items, path).map(Some)
        }
        (Card::Map(_), Some(Collected::Values(entries))) => {
            render_map(field, &entries, path).map(Some)
        }
        // A nil slice or map: dropped by omitempty, else `null`.
        (_, _) => Ok((!field.omitempty).then_some(Value::Null)),
    }
}

fn single(
    field: &Field,
    occurrences: &[Wire<'_>],
    path: &Path<'_>,
) -> Result<Option<Value>, ProtoError> {
    match field.ty {
        Ty::Message(index) => {
            // Repeated occurrences of a message merge, which for protobuf is concatenation.
            // Types with custom Unmarshal (Time, Quantity, ...) replace instead: last wins.
            let special = schema::message(index).special != Special::None;
            let payloads: Vec<&[u8]> = occurrences
                .iter()
                .filter_map(|w| match w {
                    Wire::Bytes(b) => Some(*b),
                    _ => None,
                })
                .collect();
            let value = match payloads.as_slice() {
                [] => return absent_single(field, path),
                [one] => message(index, Some(one), path)?,
                [.., last] if special => message(index, Some(last), path)?,
                many => message(index, Some(&many.concat()), path)?,
            };
            // encoding/json's omitempty never drops a struct, and a present pointer is set.
            Ok(Some(value))
        }
        Ty::Scalar(scalar) => {
            let Some(last) = occurrences.last() else {
                return absent_single(field, path);
            };
            let value = scalar_value(scalar, last);
            // A present pointer is set, even to zero; a value field is dropped when zero.
            if field.omitempty && !field.pointer && is_empty(&value) {
                return Ok(None);
            }
            Ok(Some(value))
        }
    }
}

/// Go's zero value for a field missing from the wire.
fn absent_single(field: &Field, path: &Path<'_>) -> Result<Option<Value>, ProtoError> {
    if field.pointer || field.ty == Ty::Scalar(Scalar::Bytes) {
        // nil pointer or nil []byte
        return Ok((!field.omitempty).then_some(Value::Null));
    }
    match field.ty {
        // A non-pointer struct is always rendered, as its zero value.
        Ty::Message(index) => message(index, None, path).map(Some),
        Ty::Scalar(_) if field.omitempty => Ok(None),
        Ty::Scalar(Scalar::String) => Ok(Some(Value::String(String::new()))),
        Ty::Scalar(Scalar::Bool) => Ok(Some(Value::Bool(false))),
        Ty::Scalar(_) => Ok(Some(Value::from(0))),
    }
}

fn render_list(field: &Field, items: Vec<Wire<'_>>, path: &Path<'_>) -> Result<Value, ProtoError> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(match field.ty {
            Ty::Scalar(s) => scalar_value(s, item),
            Ty::Message(index) => {
                let child = path.child(Seg::Index(i));
                message(index, Some(bytes_of(item)), &child)?
            }
        });
    }
    Ok(Value::Array(out))
}

fn render_map(field: &Field, entries: &[Wire<'_>], path: &Path<'_>) -> Result<Value, ProtoError> {
    // Go maps marshal with sorted keys; a repeated key overwrites the earlier entry.
    let mut out = BTreeMap::new();
    for entry in entries {
        let mut key = String::new();
        let mut value: Option<Wire<'_>> = None;
        let mut reader = Reader::new(bytes_of(entry));
        while let Some((num, v)) = reader.field().map_err(|e| wire_error(e, path))? {
            match (num, v) {
                (1, Wire::Bytes(b)) => key = String::from_utf8_lossy(b).into_owned(),
                (2, v) => value = Some(v),
                (1, _) => {
                    return Err(ProtoError::InvalidWireData {
                        path: path.to_string(),
                        reason: "map key is not a string",
                    });
                }
                _ => {}
            }
        }
        let child = path.child(Seg::Key(&key));
        let json = match (field.ty, value) {
            (Ty::Message(index), Some(Wire::Bytes(b))) => message(index, Some(b), &child)?,
            (Ty::Message(index), None) => message(index, None, &child)?,
            (Ty::Scalar(s), Some(v)) => {
                check_wire_type(
                    &Field {
                        card: Card::Single,
                        ..*field
                    },
                    &v,
                    &child,
                )?;
                scalar_value(s, &v)
            }
            (Ty::Scalar(s), None) => zero_scalar(s),
            (Ty::Message(_), Some(_)) => {
                return Err(ProtoError::InvalidWireData {
                    path: child.to_string(),
                    reason: "wrong wire type",
                });
            }
        };
        out.insert(key, json);
    }
    Ok(Value::Object(out.into_iter().collect()))
}

fn bytes_of<'a>(w: &Wire<'a>) -> &'a [u8] {
    match w {
        Wire::Bytes(b) => b,
        _ => &[],
    }
}

fn scalar_value(scalar: Scalar, w: &Wire<'_>) -> Value {
    match (scalar, w) {
        // Go's encoding/json replaces invalid UTF-8 with U+FFFD, as from_utf8_lossy does.
        (Scalar::String, Wire::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Scalar::Bytes, Wire::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Scalar::Bool, Wire::Varint(v)) => Value::Bool(*v != 0),
        // gogo's generated Unmarshal accumulates varints into the Go type, wrapping like `as`.
        (Scalar::Int32, Wire::Varint(v)) => Value::from(*v as i32),
        (Scalar::Int64, Wire::Varint(v)) => Value::from(*v as i64),
        // Unreachable after check_wire_type; the zero value keeps this total.
        (s, _) => zero_scalar(s),
    }
}

fn zero_scalar(s: Scalar) -> Value {
    match s {
        Scalar::String | Scalar::Bytes => Value::String(String::new()),
        Scalar::Bool => Value::Bool(false),
        Scalar::Int32 | Scalar::Int64 => Value::from(0),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

fn wire_error(e: WireError, path: &Path<'_>) -> ProtoError {
    match e {
        WireError::Truncated => ProtoError::Truncated {
            path: path.to_string(),
        },
        WireError::Invalid(reason) => ProtoError::InvalidWireData {
            path: path.to_string(),
            reason,
        },
    }
}

fn special_error(e: SpecialError, path: &Path<'_>) -> ProtoError {
    match e {
        SpecialError::Wire(w) => wire_error(w, path),
        SpecialError::Value(reason) => ProtoError::InvalidValue {
            path: path.to_string(),
            reason,
        },
    }
}
