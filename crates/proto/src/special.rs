//! JSON forms of the apimachinery types whose Go JSON marshalers differ from their protobuf
//! messages. Each function gets the message payload, or None when the field is absent so the
//! Go zero value must be rendered.

use serde_json::Value;

use crate::wire::{Reader, Value as Wire, WireError};

/// Unix seconds of Go's zero time.Time (0001-01-01T00:00:00Z), which marshals as `null`.
const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// metav1.Time: empty payload is the zero time (null); nanos are dropped like upstream's
/// Time.Unmarshal does; format is RFC 3339 in UTC with whole seconds.
pub(crate) fn time(payload: Option<&[u8]>) -> Result<Value, SpecialError> {
    let Some((seconds, _)) = timestamp(payload)? else {
        return Ok(Value::Null);
    };
    if seconds == GO_ZERO_UNIX {
        return Ok(Value::Null);
    }
    Ok(Value::String(format_rfc3339(seconds, None)?))
}

/// metav1.MicroTime: like Time but keeps microseconds ("2006-01-02T15:04:05.000000Z").
pub(crate) fn micro_time(payload: Option<&[u8]>) -> Result<Value, SpecialError> {
    let Some((seconds, nanos)) = timestamp(payload)? else {
        return Ok(Value::Null);
    };
    // time.Unix normalises nanos outside [0, 1e9) into the seconds.
    let nanos = i64::from(nanos);
    let seconds = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or(SpecialError::Value("timestamp out of range".into()))?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    if seconds == GO_ZERO_UNIX && nanos == 0 {
        return Ok(Value::Null);
    }
    // nanos is in [0, 1e9) here, so the micro part fits u32.
    let micros = u32::try_from(nanos / 1000).unwrap_or(0);
    Ok(Value::String(format_rfc3339(seconds, Some(micros))?))
}

/// Decodes a google.protobuf.Timestamp-shaped message {1: seconds, 2: nanos}.
fn timestamp(payload: Option<&[u8]>) -> Result<Option<(i64, i32)>, SpecialError> {
    let payload = match payload {
        Some(p) if !p.is_empty() => p,
        _ => return Ok(None),
    };
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut reader = Reader::new(payload);
    while let Some((num, value)) = reader.field()? {
        match (num, value) {
            // Go's generated code reads these varints with wrapping casts; so do we.
            (1, Wire::Varint(v)) => seconds = v as i64,
            (2, Wire::Varint(v)) => nanos = v as i32,
            (1 | 2, _) => return Err(SpecialError::Wire(WireError::Invalid("wrong wire type"))),
            _ => {}
        }
    }
    Ok(Some((seconds, nanos)))
}

fn format_rfc3339(seconds: i64, micros: Option<u32>) -> Result<String, SpecialError> {
    let days = seconds.div_euclid(86_400);
    let secs_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return Err(SpecialError::Value(format!(
            "year {year} outside of range [0,9999]"
        )));
    }
    let (h, m, s) = (
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60,
    );
    Ok(match micros {
        None => format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z"),
        Some(us) => format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{us:06}Z"),
    })
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// resource.Quantity {1: string}: the zero Quantity marshals as "0". Go clients always send
/// the canonical string (Quantity.Marshal uses String()), so it is passed through unchanged.
pub(crate) fn quantity(payload: Option<&[u8]>) -> Result<Value, SpecialError> {
    let mut text = None;
    let mut reader = Reader::new(payload.unwrap_or_default());
    while let Some((num, value)) = reader.field()? {
        match (num, value) {
            (1, Wire::Bytes(b)) => text = Some(String::from_utf8_lossy(b).into_owned()),
            (1, _) => return Err(SpecialError::Wire(WireError::Invalid("wrong wire type"))),
            _ => {}
        }
    }
    match text {
        None => Ok(Value::String("0".into())),
        // Upstream's Quantity.Unmarshal runs ParseQuantity, which rejects the empty string.
        Some(t) if t.is_empty() => Err(SpecialError::Value("empty quantity".into())),
        Some(t) => Ok(Value::String(t)),
    }
}

/// intstr.IntOrString {1: type, 2: intVal, 3: strVal}: type 0 is a number, 1 a string.
pub(crate) fn int_or_string(payload: Option<&[u8]>) -> Result<Value, SpecialError> {
    let (mut kind, mut int_val, mut str_val) = (0i64, 0i32, String::new());
    let mut reader = Reader::new(payload.unwrap_or_default());
    while let Some((num, value)) = reader.field()? {
        match (num, value) {
            (1, Wire::Varint(v)) => kind = v as i64,
            (2, Wire::Varint(v)) => int_val = v as i32,
            (3, Wire::Bytes(b)) => str_val = String::from_utf8_lossy(b).into_owned(),
            (1..=3, _) => return Err(SpecialError::Wire(WireError::Invalid("wrong wire type"))),
            _ => {}
        }
    }
    match kind {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::String(str_val)),
        // IntOrString.MarshalJSON fails the same way.
        other => Err(SpecialError::Value(format!(
            "impossible IntOrString.Type {other}"
        ))),
    }
}

/// runtime.RawExtension / metav1.FieldsV1 {1: raw}: the raw bytes are embedded JSON.
pub(crate) fn raw_json(payload: Option<&[u8]>) -> Result<Value, SpecialError> {
    let mut raw: Option<&[u8]> = None;
    let mut reader = Reader::new(payload.unwrap_or_default());
    while let Some((num, value)) = reader.field()? {
        match (num, value) {
            (1, Wire::Bytes(b)) => raw = Some(b),
            (1, _) => return Err(SpecialError::Wire(WireError::Invalid("wrong wire type"))),
            _ => {}
        }
    }
    match raw {
        None | Some([]) => Ok(Value::Null),
        // encoding/json refuses a RawMessage that is not valid JSON; so do we.
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| SpecialError::Value(format!("embedded object is not JSON: {e}"))),
    }
}

#[derive(Debug)]
pub(crate) enum SpecialError {
    Wire(WireError),
    Value(String),
}

impl From<WireError> for SpecialError {
    fn from(e: WireError) -> Self {
        SpecialError::Wire(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64, nanos: i32) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, v) in [(0x08u8, seconds as u64), (0x10, nanos as i64 as u64)] {
            out.push(tag);
            let mut v = v;
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        out
    }

    #[test]
    fn times_format_like_go() {
        assert_eq!(time(Some(&ts(0, 0))).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            time(Some(&ts(1_700_000_000, 999))).unwrap(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            time(Some(&ts(951_782_400, 0))).unwrap(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(time(Some(&ts(-1, 0))).unwrap(), "1969-12-31T23:59:59Z");
        assert_eq!(time(Some(&[])).unwrap(), Value::Null);
        assert_eq!(time(Some(&ts(GO_ZERO_UNIX, 0))).unwrap(), Value::Null);
        assert!(time(Some(&ts(i64::MAX, 0))).is_err());
        assert_eq!(
            micro_time(Some(&ts(1_700_000_000, 123_456_789))).unwrap(),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(
            micro_time(Some(&ts(1, -1))).unwrap(),
            "1970-01-01T00:00:00.999999Z"
        );
    }
}
