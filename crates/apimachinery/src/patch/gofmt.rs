//! Go's view of decoded JSON (`interface{}` values), for the parts of upstream's
//! patch code whose behaviour or messages depend on it: `==` between values, `%v`
//! printing and `reflect.TypeOf` names.

use serde_json::Value;

/// Go's `==` between two decoded JSON values, where `None` is a missing map entry
/// (nil). Numbers are all float64 in Go. Maps and slices are not comparable in Go (a
/// runtime panic); here they are simply unequal.
pub(crate) fn go_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.unwrap_or(&Value::Null);
    let b = b.unwrap_or(&Value::Null);
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => false,
    }
}

/// Whether two values have the same Go dynamic type (`reflect.TypeOf`).
pub(crate) fn same_go_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// `reflect.TypeOf(v).String()`.
pub(crate) fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn go_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else if f != 0.0 && (f.abs() < 1e-4 || f.abs() >= 1e21) {
        // Go's %v switches to exponent form like "1e+21" / "1e-05".
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp:0>2}"),
            Some((mantissa, exp)) => format!("{mantissa}e-{:0>2}", &exp[1..]),
            None => s,
        }
    } else {
        format!("{f}")
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a decoded JSON value.
pub(crate) fn go_fmt(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), go_float),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_fmt).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_fmt(v)))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(
            go_fmt(&json!({"name": "a", "port": 80, "x": [1.5, null, true]})),
            "map[name:a port:80 x:[1.5 <nil> true]]"
        );
        assert_eq!(go_fmt(&json!(1e21)), "1e+21");
        assert!(go_eq(Some(&json!(80)), Some(&json!(80.0))));
        assert!(go_eq(None, Some(&json!(null))));
        assert!(!go_eq(Some(&json!({})), Some(&json!({}))));
    }
}
