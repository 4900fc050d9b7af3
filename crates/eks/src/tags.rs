//! TagResource, UntagResource, ListTagsForResource on cluster and node group ARNs. These APIs
//! answer only BadRequestException and NotFoundException.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::clusters::parse;
use crate::error::{ApiResult, bad_request, tag_resource_not_found};
use crate::service::Inner;
use crate::validate;

/// The cluster an ARN of this region and account names (a node group's ARN names its cluster).
fn cluster_of(inner: &Inner, arn: &str) -> ApiResult<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "eks" {
        return Err(bad_request(format!("{arn} is not a valid resource ARN")));
    }
    let name = match parts[5].split_once('/') {
        Some(("cluster", name)) => name,
        Some(("nodegroup", rest)) => rest.split('/').next().unwrap_or_default(),
        _ => return Err(tag_resource_not_found(format!("Resource {arn} not found"))),
    };
    if parts[3] != inner.region
        || parts[4] != inner.account_id
        || validate::cluster_name(name).is_err()
    {
        return Err(tag_resource_not_found(format!("Resource {arn} not found")));
    }
    Ok(name.to_string())
}

/// The tags of the cluster or node group `arn` names in `record`.
fn tags_of<'a>(
    record: &'a mut crate::model::ClusterRecord,
    arn: &str,
) -> Option<&'a mut BTreeMap<String, String>> {
    if arn
        .split(':')
        .nth(5)
        .is_some_and(|r| r.starts_with("nodegroup/"))
    {
        return record
            .nodegroups
            .iter_mut()
            .find(|g| g.arn == arn)
            .map(|g| &mut g.tags);
    }
    Some(&mut record.tags)
}

async fn mutate_tags(
    inner: &Inner,
    arn: &str,
    change: impl Fn(&mut BTreeMap<String, String>) -> Result<(), String>,
) -> ApiResult<()> {
    let name = cluster_of(inner, arn)?;
    let result = inner
        .records
        .mutate(&name, |record| {
            let target = tags_of(record, arn)
                .ok_or_else(|| tag_resource_not_found(format!("Resource {arn} not found")))?;
            let mut tags = target.clone();
            change(&mut tags).map_err(bad_request)?;
            *target = tags;
            Ok(())
        })
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error) if error.code == "ResourceNotFoundException" => {
            Err(tag_resource_not_found(format!("Resource {arn} not found")))
        }
        Err(error) => Err(error),
    }
}

#[derive(Deserialize)]
struct TagInput {
    tags: Option<BTreeMap<String, String>>,
}

pub(crate) async fn tag(inner: &Inner, arn: &str, body: Value) -> ApiResult<Value> {
    let input: TagInput = parse(body).map_err(|e| bad_request(e.message))?;
    let Some(new_tags) = input.tags.filter(|t| !t.is_empty()) else {
        return Err(bad_request(
            "The tags parameter is required and may not be empty",
        ));
    };
    mutate_tags(inner, arn, |tags| {
        tags.extend(new_tags.clone());
        validate::tags(tags)
    })
    .await?;
    Ok(json!({}))
}

pub(crate) async fn untag(
    inner: &Inner,
    arn: &str,
    query: &[(String, String)],
) -> ApiResult<Value> {
    let keys: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v.as_str())
        .collect();
    if keys.is_empty() {
        return Err(bad_request("The tagKeys parameter is required"));
    }
    mutate_tags(inner, arn, |tags| {
        tags.retain(|k, _| !keys.contains(&k.as_str()));
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

pub(crate) async fn list(inner: &Inner, arn: &str) -> ApiResult<Value> {
    let name = cluster_of(inner, arn)?;
    match inner.records.get(&name).await? {
        Some((mut record, _)) => match tags_of(&mut record, arn) {
            Some(tags) => Ok(json!({ "tags": tags })),
            None => Err(tag_resource_not_found(format!("Resource {arn} not found"))),
        },
        None => Err(tag_resource_not_found(format!("Resource {arn} not found"))),
    }
}
