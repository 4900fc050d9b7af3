//! `metadata.managedFields`: decoding into per-manager field sets, and encoding back
//! with upstream's identity, merging and ordering rules.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value, json};

use super::ApplyError;
use super::fieldset::FieldSet;
use super::gojson::write_go_string;

/// `ManagedFieldsEntry.operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who owns a set of fields. Upstream keys entries by this: one entry per manager,
/// operation, subresource and — for updates only — apiVersion, so an applier keeps a
/// single entry across versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ManagerId {
    pub manager: String,
    pub operation: Operation,
    /// Empty for `Apply`.
    pub api_version: String,
    /// Empty for the main resource.
    pub subresource: String,
}

impl ManagerId {
    pub fn new(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> Self {
        ManagerId {
            manager: manager.to_string(),
            operation,
            api_version: match operation {
                Operation::Apply => String::new(),
                Operation::Update => api_version.to_string(),
            },
            subresource: subresource.to_string(),
        }
    }

    /// Upstream's identifier string (the JSON of the entry without fields and time);
    /// conflict messages sort managers by it.
    pub fn identifier(&self) -> String {
        let mut out = String::from("{");
        let field = |name: &str, value: &str, out: &mut String| {
            if value.is_empty() {
                return;
            }
            if out.len() > 1 {
                out.push(',');
            }
            write_go_string(name, out);
            out.push(':');
            write_go_string(value, out);
        };
        field("manager", &self.manager, &mut out);
        field("operation", self.operation.as_str(), &mut out);
        field("apiVersion", &self.api_version, &mut out);
        field("subresource", &self.subresource, &mut out);
        out.push('}');
        out
    }

    /// How conflict messages name the manager: `"kubectl" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        write_go_string(&self.manager, &mut out);
        if !self.subresource.is_empty() {
            out.push_str(" with subresource ");
            write_go_string(&self.subresource, &mut out);
        }
        if self.operation == Operation::Update {
            out.push_str(" using ");
            out.push_str(&self.api_version);
        }
        out
    }
}

/// One manager's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedSet {
    pub fields: FieldSet,
    /// The apiVersion the fields were recorded in.
    pub api_version: String,
    pub time: Option<String>,
}

/// All managers of an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagedFields {
    pub entries: BTreeMap<ManagerId, ManagedSet>,
}

fn entry_str<'v>(entry: &'v Value, key: &str) -> &'v str {
    entry.get(key).and_then(Value::as_str).unwrap_or("")
}

impl ManagedFields {
    /// Decodes `metadata.managedFields` of an object (absent means none).
    pub fn from_object(object: &Value) -> Result<Self, ApplyError> {
        match object.pointer("/metadata/managedFields") {
            None | Some(Value::Null) => Ok(ManagedFields::default()),
            Some(list) => Self::decode(list),
        }
    }

    pub fn decode(list: &Value) -> Result<Self, ApplyError> {
        let bad = |why: String| ApplyError::InvalidManagedFields(why);
        let Value::Array(items) = list else {
            return Err(bad("managedFields must be a list".into()));
        };
        let mut out = ManagedFields::default();
        for (i, entry) in items.iter().enumerate() {
            let operation = match entry_str(entry, "operation") {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return Err(bad("operation must be `Apply` or `Update`".into())),
            };
            let api_version = entry_str(entry, "apiVersion");
            if api_version.is_empty() {
                return Err(bad("apiVersion must not be empty".into()));
            }
            match entry_str(entry, "fieldsType") {
                "FieldsV1" => {}
                "" => {
                    return Err(bad(format!(
                        "missing fieldsType in managed fields entry {i}"
                    )));
                }
                other => {
                    return Err(bad(format!(
                        "invalid fieldsType {other:?} in managed fields entry {i}"
                    )));
                }
            }
            let fields = match entry.get("fieldsV1") {
                None | Some(Value::Null) => FieldSet::new(),
                Some(v) => FieldSet::from_fields_v1(v)
                    .map_err(|e| bad(format!("error decoding set: {e}")))?,
            };
            let id = ManagerId::new(
                entry_str(entry, "manager"),
                operation,
                api_version,
                entry_str(entry, "subresource"),
            );
            let time = entry
                .get("time")
                .and_then(Value::as_str)
                .map(str::to_string);
            out.entries.insert(
                id,
                ManagedSet {
                    fields,
                    api_version: api_version.to_string(),
                    time,
                },
            );
        }
        Ok(out)
    }

    /// Encodes in upstream's order: Apply before Update, then oldest first, then by
    /// manager, apiVersion and subresource. Empty sets are dropped.
    pub fn encode(&self) -> Vec<Value> {
        let mut entries: Vec<(&ManagerId, &ManagedSet)> = self
            .entries
            .iter()
            .filter(|(_, set)| !set.fields.is_empty())
            .collect();
        entries.sort_by(|(a, sa), (b, sb)| {
            a.operation
                .cmp(&b.operation)
                .then_with(|| {
                    unix_seconds(sa.time.as_deref()).cmp(&unix_seconds(sb.time.as_deref()))
                })
                .then_with(|| a.manager.cmp(&b.manager))
                .then_with(|| sa.api_version.cmp(&sb.api_version))
                .then_with(|| a.subresource.cmp(&b.subresource))
        });
        entries
            .into_iter()
            .map(|(id, set)| {
                let mut entry = Map::new();
                if !id.manager.is_empty() {
                    entry.insert("manager".into(), json!(id.manager));
                }
                entry.insert("operation".into(), json!(id.operation.as_str()));
                entry.insert("apiVersion".into(), json!(set.api_version));
                if let Some(time) = &set.time {
                    entry.insert("time".into(), json!(time));
                }
                entry.insert("fieldsType".into(), json!("FieldsV1"));
                entry.insert("fieldsV1".into(), set.fields.to_fields_v1());
                if !id.subresource.is_empty() {
                    entry.insert("subresource".into(), json!(id.subresource));
                }
                Value::Object(entry)
            })
            .collect()
    }

    /// Writes the entries into `object.metadata.managedFields` (removing the field
    /// when there are none, as upstream's nil slice).
    pub fn store_in(&self, object: &mut Value) {
        let encoded = self.encode();
        let Some(root) = object.as_object_mut() else {
            return;
        };
        let metadata = root
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(metadata) = metadata.as_object_mut() else {
            return;
        };
        if encoded.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(encoded));
        }
    }

    pub fn remove_empty(&mut self) {
        self.entries.retain(|_, set| !set.fields.is_empty());
    }

    /// Upstream keeps at most this many Update entries; older ones are folded into
    /// per-version `ancient-changes` buckets.
    pub const MAX_UPDATE_MANAGERS: usize = 10;

    pub fn cap_update_managers(&mut self) {
        let mut updaters: Vec<ManagerId> = self
            .entries
            .keys()
            .filter(|id| id.operation == Operation::Update)
            .cloned()
            .collect();
        if updaters.len() <= Self::MAX_UPDATE_MANAGERS {
            return;
        }
        updaters.sort_by(|a, b| {
            let ta = unix_seconds(self.entries[a].time.as_deref());
            let tb = unix_seconds(self.entries[b].time.as_deref());
            ta.cmp(&tb)
                .then_with(|| a.identifier().cmp(&b.identifier()))
        });
        let mut remaining = updaters.len();
        // Like upstream, the first (oldest) manager of each version only becomes a
        // bucket once a second one of that version has to be folded.
        let mut first_of_version: BTreeMap<String, ManagerId> = BTreeMap::new();
        for id in updaters {
            if remaining <= Self::MAX_UPDATE_MANAGERS {
                break;
            }
            let version = self.entries[&id].api_version.clone();
            let Some(first) = first_of_version.get(&version).cloned() else {
                first_of_version.insert(version, id);
                continue;
            };
            let bucket = ManagerId::new("ancient-changes", Operation::Update, &version, "");
            if !self.entries.contains_key(&bucket)
                && let Some(first_set) = self.entries.remove(&first)
            {
                self.entries.insert(bucket.clone(), first_set);
            }
            if let Some(set) = self.entries.remove(&id) {
                let target = self.entries.get_mut(&bucket).expect("bucket just ensured");
                target.fields.union_in_place(&set.fields);
                target.time = set.time;
            }
            remaining -= 1;
        }
    }
}

/// Seconds since the epoch of an RFC 3339 timestamp; 0 when absent or unparsable, as
/// upstream treats a nil time.
pub(crate) fn unix_seconds(time: Option<&str>) -> i64 {
    time.and_then(parse_rfc3339).unwrap_or(0)
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(unix_seconds(Some("1970-01-01T00:00:00Z")), 0);
        assert_eq!(unix_seconds(Some("2024-01-02T03:04:05Z")), 1_704_164_645);
        assert_eq!(
            unix_seconds(Some("2024-01-02T04:04:05.123+01:00")),
            1_704_164_645
        );
        assert_eq!(unix_seconds(Some("garbage")), 0);
    }

    #[test]
    fn identifiers_and_descriptions() {
        let apply = ManagerId::new("kubectl", Operation::Apply, "apps/v1", "");
        assert_eq!(
            apply.identifier(),
            r#"{"manager":"kubectl","operation":"Apply"}"#
        );
        assert_eq!(apply.describe(), r#""kubectl""#);
        let update = ManagerId::new(
            "kube-controller-manager",
            Operation::Update,
            "apps/v1",
            "status",
        );
        assert_eq!(
            update.describe(),
            r#""kube-controller-manager" with subresource "status" using apps/v1"#
        );
    }

    #[test]
    fn decode_rejects_bad_entries() {
        for bad in [
            json!([{"operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}]),
            json!([{"operation": "Update", "fieldsType": "FieldsV1"}]),
            json!([{"operation": "Update", "apiVersion": "v1"}]),
            json!([{"operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV2"}]),
        ] {
            assert!(ManagedFields::decode(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn caps_update_managers_into_ancient_changes() {
        let mut managed = ManagedFields::default();
        for i in 0..12 {
            let mut fields = FieldSet::new();
            fields.insert(&[super::super::fieldset::PathElement::field(format!("f{i}"))]);
            managed.entries.insert(
                ManagerId::new(&format!("m{i:02}"), Operation::Update, "v1", ""),
                ManagedSet {
                    fields,
                    api_version: "v1".into(),
                    time: Some(format!("2024-01-01T00:00:{i:02}Z")),
                },
            );
        }
        managed.cap_update_managers();
        assert_eq!(managed.entries.len(), 10);
        let bucket =
            &managed.entries[&ManagerId::new("ancient-changes", Operation::Update, "v1", "")];
        assert_eq!(bucket.fields.paths().len(), 3);
        assert_eq!(bucket.time.as_deref(), Some("2024-01-01T00:00:02Z"));
    }
}
