//! JSON (Swagger 2.0) to gnostic's protobuf messages. Vendor extensions and `default`/`enum`
//! values travel as YAML text, as gnostic does; JSON is valid YAML, so we write JSON.

use serde_json::{Map, Value};

use super::messages::*;
use crate::OpenApiError;

pub(super) fn document(doc: &Value) -> Result<Document, OpenApiError> {
    let mut paths = Vec::new();
    for (name, item) in object(doc, "paths") {
        paths.push(NamedPathItem {
            name: name.clone(),
            value: Some(path_item(item)?),
        });
    }
    let definitions = object(doc, "definitions")
        .iter()
        .map(|(name, s)| NamedSchema {
            name: name.clone(),
            value: Some(schema(s)),
        })
        .collect();
    let security_definitions = object(doc, "securityDefinitions")
        .iter()
        .map(|(name, d)| NamedSecurityDefinitionsItem {
            name: name.clone(),
            value: Some(SecurityDefinitionsItem {
                oneof: Some(security_definitions_item::Oneof::ApiKeySecurity(
                    ApiKeySecurity {
                        r#type: string(d, "type"),
                        name: string(d, "name"),
                        r#in: string(d, "in"),
                        description: string(d, "description"),
                    },
                )),
            }),
        })
        .collect();
    let security = doc
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|req| SecurityRequirement {
            additional_properties: req
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, scopes)| NamedStringArray {
                    name: name.clone(),
                    value: Some(StringArray {
                        value: strings(scopes),
                    }),
                })
                .collect(),
        })
        .collect();
    Ok(Document {
        swagger: string(doc, "swagger"),
        info: Some(Info {
            title: string(&doc["info"], "title"),
            version: string(&doc["info"], "version"),
        }),
        schemes: Vec::new(),
        paths: Some(Paths { path: paths }),
        definitions: Some(Definitions {
            additional_properties: definitions,
        }),
        security,
        security_definitions: Some(SecurityDefinitions {
            additional_properties: security_definitions,
        }),
    })
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

fn object<'a>(value: &'a Value, key: &str) -> &'a Map<String, Value> {
    value.get(key).and_then(Value::as_object).unwrap_or(&EMPTY)
}

fn string(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn any(value: &Value) -> Any {
    Any {
        yaml: value.to_string(),
    }
}

fn extensions(value: &Value) -> Vec<NamedAny> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, v)| NamedAny {
            name: k.clone(),
            value: Some(any(v)),
        })
        .collect()
}

fn path_item(item: &Value) -> Result<PathItem, OpenApiError> {
    let op = |method: &str| item.get(method).map(operation).transpose();
    Ok(PathItem {
        get: op("get")?,
        put: op("put")?,
        post: op("post")?,
        delete: op("delete")?,
        patch: op("patch")?,
        parameters: parameters(item)?,
        vendor_extension: extensions(item),
    })
}

fn operation(op: &Value) -> Result<Operation, OpenApiError> {
    let responses = object(op, "responses")
        .iter()
        .map(|(code, r)| NamedResponseValue {
            name: code.clone(),
            value: Some(ResponseValue {
                oneof: Some(response_value::Oneof::Response(Response {
                    description: string(r, "description"),
                    schema: r.get("schema").map(|s| SchemaItem {
                        oneof: Some(schema_item::Oneof::Schema(schema(s))),
                    }),
                })),
            }),
        })
        .collect();
    Ok(Operation {
        tags: strings(&op["tags"]),
        description: string(op, "description"),
        operation_id: string(op, "operationId"),
        produces: strings(&op["produces"]),
        consumes: strings(&op["consumes"]),
        parameters: parameters(op)?,
        responses: Some(Responses {
            response_code: responses,
        }),
        schemes: strings(&op["schemes"]),
        vendor_extension: extensions(op),
    })
}

fn parameters(owner: &Value) -> Result<Vec<ParametersItem>, OpenApiError> {
    owner
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(parameter)
        .collect()
}

fn parameter(p: &Value) -> Result<ParametersItem, OpenApiError> {
    let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
    let unique_items = p
        .get("uniqueItems")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (name, location, description, ty) = (
        string(p, "name"),
        string(p, "in"),
        string(p, "description"),
        string(p, "type"),
    );
    let param = match location.as_str() {
        "body" => parameter::Oneof::BodyParameter(Box::new(BodyParameter {
            description,
            name,
            r#in: location,
            required,
            schema: p.get("schema").map(schema),
        })),
        "query" => parameter::Oneof::NonBodyParameter(NonBodyParameter {
            oneof: Some(non_body_parameter::Oneof::QueryParameterSubSchema(
                QueryParameterSubSchema {
                    required,
                    r#in: location,
                    description,
                    name,
                    r#type: ty,
                    unique_items,
                },
            )),
        }),
        "path" => parameter::Oneof::NonBodyParameter(NonBodyParameter {
            oneof: Some(non_body_parameter::Oneof::PathParameterSubSchema(
                PathParameterSubSchema {
                    required,
                    r#in: location,
                    description,
                    name,
                    r#type: ty,
                    unique_items,
                },
            )),
        }),
        other => {
            return Err(OpenApiError::Protobuf(format!(
                "parameter {name:?} in unsupported location {other:?}"
            )));
        }
    };
    Ok(ParametersItem {
        oneof: Some(parameters_item::Oneof::Parameter(Parameter {
            oneof: Some(param),
        })),
    })
}

fn schema(s: &Value) -> Schema {
    let f64_of = |k: &str| s.get(k).and_then(Value::as_f64).unwrap_or_default();
    let i64_of = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or_default();
    let bool_of = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or_default();
    let named = |k: &str| -> Vec<NamedSchema> {
        object(s, k)
            .iter()
            .map(|(name, v)| NamedSchema {
                name: name.clone(),
                value: Some(schema(v)),
            })
            .collect()
    };
    let additional_properties = match s.get("additionalProperties") {
        Some(Value::Bool(b)) => Some(additional_properties_item::Oneof::Boolean(*b)),
        Some(v @ Value::Object(_)) => Some(additional_properties_item::Oneof::Schema(Box::new(
            schema(v),
        ))),
        _ => None,
    };
    let items = match s.get("items") {
        Some(Value::Array(list)) => Some(ItemsItem {
            schema: list.iter().map(schema).collect(),
        }),
        Some(v @ Value::Object(_)) => Some(ItemsItem {
            schema: vec![schema(v)],
        }),
        _ => None,
    };
    let ty = match s.get("type") {
        Some(Value::String(t)) => Some(TypeItem {
            value: vec![t.clone()],
        }),
        Some(list @ Value::Array(_)) => Some(TypeItem {
            value: strings(list),
        }),
        _ => None,
    };
    Schema {
        _ref: string(s, "$ref"),
        format: string(s, "format"),
        title: string(s, "title"),
        description: string(s, "description"),
        default: s.get("default").map(any),
        multiple_of: f64_of("multipleOf"),
        maximum: f64_of("maximum"),
        exclusive_maximum: bool_of("exclusiveMaximum"),
        minimum: f64_of("minimum"),
        exclusive_minimum: bool_of("exclusiveMinimum"),
        max_length: i64_of("maxLength"),
        min_length: i64_of("minLength"),
        pattern: string(s, "pattern"),
        max_items: i64_of("maxItems"),
        min_items: i64_of("minItems"),
        unique_items: bool_of("uniqueItems"),
        max_properties: i64_of("maxProperties"),
        min_properties: i64_of("minProperties"),
        required: strings(&s["required"]),
        r#enum: s
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(any)
            .collect(),
        additional_properties: additional_properties
            .map(|o| AdditionalPropertiesItem { oneof: Some(o) }),
        r#type: ty,
        items,
        all_of: s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(schema)
            .collect(),
        properties: s.get("properties").map(|_| Properties {
            additional_properties: named("properties"),
        }),
        read_only: bool_of("readOnly"),
        vendor_extension: extensions(s),
    }
}
