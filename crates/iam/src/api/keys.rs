//! CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey, for users and the root.

use chrono::Utc;

use super::Call;
use super::users::{no_such_user, target_user, user_arn};
use crate::error::{IamError, Result};
use crate::model::{AccessKey, Account, User, iso8601, keys};
use crate::query::Xml;
use crate::{ids, repo};

/// IAM's quota of access keys per user (and for the root).
const KEYS_PER_USER: usize = 2;

/// Whose keys: a user's (by name) or, with `None`, the root's.
type Owner = Option<String>;

async fn authorize(call: &Call<'_>, action: &str, owner: &Owner) -> Result<()> {
    let resource = match owner {
        Some(name) => user_arn(call, name).await?,
        None => format!("arn:aws:iam::{}:root", call.iam.account_id()),
    };
    call.authorize(action, &resource)
}

/// Applies `change` to the owner's list of key ids with compare-and-swap.
async fn change_list(
    call: &Call<'_>,
    owner: &Owner,
    change: impl Fn(&mut Vec<String>) -> Result<()>,
) -> Result<Vec<String>> {
    let store = &*call.iam.store;
    match owner {
        Some(name) => {
            let (user, _) = repo::modify::<User, _>(
                store,
                &keys::user(name),
                || no_such_user(name),
                |u| change(&mut u.access_keys),
            )
            .await?;
            Ok(user.access_keys)
        }
        None => {
            let missing = || IamError::no_such_entity("the account record is missing");
            let (account, _) = repo::modify::<Account, _>(store, keys::ACCOUNT, missing, |a| {
                change(&mut a.root_access_keys)
            })
            .await?;
            Ok(account.root_access_keys)
        }
    }
}

async fn key_ids(call: &Call<'_>, owner: &Owner) -> Result<Vec<String>> {
    let store = &*call.iam.store;
    match owner {
        Some(name) => Ok(repo::get::<User>(store, &keys::user(name))
            .await?
            .ok_or_else(|| no_such_user(name))?
            .0
            .access_keys),
        None => Ok(repo::get::<Account>(store, keys::ACCOUNT)
            .await?
            .map(|(a, _)| a.root_access_keys)
            .unwrap_or_default()),
    }
}

/// Deletes a key record; one already gone is fine.
async fn remove_record(call: &Call<'_>, id: &str) -> Result<()> {
    match call.iam.store.delete(&keys::access_key(id), None).await {
        Ok(_) | Err(keelson_store::StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn no_such_key(id: &str) -> IamError {
    IamError::no_such_entity(format!("The Access Key with id {id} cannot be found."))
}

/// The key record, if it belongs to `owner`.
async fn owned_key(call: &Call<'_>, owner: &Owner, id: &str) -> Result<Option<(AccessKey, i64)>> {
    Ok(
        repo::get::<AccessKey>(&*call.iam.store, &keys::access_key(id))
            .await?
            .filter(|(key, _)| {
                key.user_name.as_deref().map(str::to_ascii_lowercase)
                    == owner.as_deref().map(str::to_ascii_lowercase)
            }),
    )
}

fn metadata_xml(xml: &mut Xml, key: &AccessKey) {
    xml.optional("UserName", key.user_name.as_deref())
        .text("AccessKeyId", &key.access_key_id)
        .text("Status", if key.active { "Active" } else { "Inactive" })
        .text("CreateDate", &iso8601(&key.created));
}

pub async fn create(call: &Call<'_>) -> Result<String> {
    let owner = target_user(call)?;
    authorize(call, "CreateAccessKey", &owner).await?;
    let user_name = match &owner {
        Some(name) => Some(
            repo::get::<User>(&*call.iam.store, &keys::user(name))
                .await?
                .ok_or_else(|| no_such_user(name))?
                .0
                .name,
        ),
        None => None,
    };
    let mut key = AccessKey {
        access_key_id: ids::access_key_id(false),
        secret_access_key: ids::secret_access_key(),
        user_name,
        active: false,
        created: Utc::now(),
    };
    // The record is written inactive first and enabled only once the quota check (a
    // compare-and-swap on the owner) succeeded, so a crash or a lost race never leaves a
    // usable key outside the owner's list.
    let path = keys::access_key(&key.access_key_id);
    if repo::create(&*call.iam.store, &path, &key, None)
        .await?
        .is_none()
    {
        return Err(IamError::Contended);
    }
    let id = key.access_key_id.clone();
    let listed = change_list(call, &owner, |list| {
        if list.len() >= KEYS_PER_USER {
            return Err(IamError::api(
                409,
                "LimitExceeded",
                format!("Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}"),
            ));
        }
        list.push(id.clone());
        Ok(())
    })
    .await;
    if let Err(err) = listed {
        remove_record(call, &id).await?;
        return Err(err);
    }
    repo::modify::<AccessKey, _>(
        &*call.iam.store,
        &path,
        || no_such_key(&id),
        |k| {
            k.active = true;
            Ok(())
        },
    )
    .await?;
    key.active = true;
    let mut xml = Xml::new();
    xml.element("AccessKey", |x| {
        metadata_xml(x, &key);
        x.text("SecretAccessKey", &key.secret_access_key);
    });
    Ok(xml.into_string())
}

pub async fn list(call: &Call<'_>) -> Result<String> {
    let owner = target_user(call)?;
    authorize(call, "ListAccessKeys", &owner).await?;
    let mut keys_found = Vec::new();
    for id in key_ids(call, &owner).await? {
        if let Some((key, _)) = owned_key(call, &owner, &id).await? {
            keys_found.push(key);
        }
    }
    let mut xml = Xml::new();
    xml.members("AccessKeyMetadata", &keys_found, metadata_xml);
    xml.text("IsTruncated", "false");
    Ok(xml.into_string())
}

pub async fn update(call: &Call<'_>) -> Result<()> {
    let owner = target_user(call)?;
    let id = call.query.required("AccessKeyId")?;
    let active = match call.query.required("Status")? {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(IamError::validation(format!(
                "Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            )));
        }
    };
    authorize(call, "UpdateAccessKey", &owner).await?;
    if owned_key(call, &owner, id).await?.is_none()
        || !key_ids(call, &owner).await?.iter().any(|k| k == id)
    {
        return Err(no_such_key(id));
    }
    repo::modify::<AccessKey, _>(
        &*call.iam.store,
        &keys::access_key(id),
        || no_such_key(id),
        |k| {
            k.active = active;
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub async fn delete(call: &Call<'_>) -> Result<()> {
    let owner = target_user(call)?;
    let id = call.query.required("AccessKeyId")?;
    authorize(call, "DeleteAccessKey", &owner).await?;
    let listed = key_ids(call, &owner).await?.iter().any(|k| k == id);
    let record = owned_key(call, &owner, id).await?;
    if !listed && record.is_none() {
        return Err(no_such_key(id));
    }
    // The record goes first: a crash in between leaves a listed id without a key, which a
    // repeated DeleteAccessKey clears, never a working key that no list shows.
    if record.is_some() {
        remove_record(call, id).await?;
    }
    change_list(call, &owner, |list| {
        list.retain(|k| k != id);
        Ok(())
    })
    .await?;
    Ok(())
}
