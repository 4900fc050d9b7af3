//! An in-memory copy of the policies attached to users and roles, fed by a store watch, so the
//! synchronous [`keelson_aws_core::Authorizer`] can evaluate without I/O. Every instance of the
//! service follows the same store, so writes made by another instance arrive here too; a writer
//! waits until its own write is mirrored before answering (read-your-writes).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use keelson_store::{EventKind, KeyValue, RangeRequest, Revision, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::model::{ManagedPolicy, Role, User, keys};
use crate::policy::{PolicyDocument, PolicyKind};

/// The identity policies of one user or role.
#[derive(Clone, Debug, Default)]
pub struct Attached {
    pub inline: Vec<Arc<PolicyDocument>>,
    pub managed_arns: Vec<String>,
}

enum Entry {
    User(String, Attached),
    Role(String, Attached),
    Policy(String, Arc<PolicyDocument>),
}

#[derive(Default)]
struct State {
    by_key: HashMap<String, Entry>,
    users: HashMap<String, Attached>,
    roles: HashMap<String, Attached>,
    policies: HashMap<String, Arc<PolicyDocument>>,
}

pub struct Mirror {
    state: RwLock<State>,
    revision: watch::Sender<Revision>,
}

fn parse_logged(key: &str, text: &str, kind: PolicyKind) -> Option<Arc<PolicyDocument>> {
    match PolicyDocument::parse(text, kind) {
        Ok(doc) => Some(Arc::new(doc)),
        Err(err) => {
            // Documents are validated when written; one that no longer parses grants nothing.
            tracing::error!(%key, %err, "stored policy document does not parse");
            None
        }
    }
}

fn attached(
    key: &str,
    inline: &std::collections::BTreeMap<String, String>,
    managed: &[String],
) -> Attached {
    Attached {
        inline: inline
            .values()
            .filter_map(|text| parse_logged(key, text, PolicyKind::Identity))
            .collect(),
        managed_arns: managed.to_vec(),
    }
}

fn decode_entry(kv: &KeyValue) -> Option<Entry> {
    let rest = kv.key.strip_prefix(keys::ENTITIES)?;
    let result = if rest.starts_with("users/") {
        serde_json::from_slice::<User>(&kv.value).map(|u| {
            Entry::User(
                u.name.to_ascii_lowercase(),
                attached(&kv.key, &u.inline_policies, &u.attached_policies),
            )
        })
    } else if rest.starts_with("roles/") {
        serde_json::from_slice::<Role>(&kv.value).map(|r| {
            Entry::Role(
                r.name.to_ascii_lowercase(),
                attached(&kv.key, &r.inline_policies, &r.attached_policies),
            )
        })
    } else if rest.starts_with("policies/") {
        serde_json::from_slice::<ManagedPolicy>(&kv.value).map(|p| {
            let doc =
                parse_logged(&kv.key, &p.document, PolicyKind::Identity).unwrap_or_else(|| {
                    Arc::new(PolicyDocument {
                        statements: Vec::new(),
                    })
                });
            Entry::Policy(p.arn, doc)
        })
    } else {
        return None;
    };
    match result {
        Ok(entry) => Some(entry),
        Err(err) => {
            tracing::error!(key = %kv.key, %err, "stored IAM entity does not decode");
            None
        }
    }
}

impl State {
    fn remove(&mut self, key: &str) {
        match self.by_key.remove(key) {
            Some(Entry::User(name, _)) => drop(self.users.remove(&name)),
            Some(Entry::Role(name, _)) => drop(self.roles.remove(&name)),
            Some(Entry::Policy(arn, _)) => drop(self.policies.remove(&arn)),
            None => {}
        }
    }

    fn put(&mut self, kv: &KeyValue) {
        self.remove(&kv.key);
        let Some(entry) = decode_entry(kv) else {
            return;
        };
        match &entry {
            Entry::User(name, a) => drop(self.users.insert(name.clone(), a.clone())),
            Entry::Role(name, a) => drop(self.roles.insert(name.clone(), a.clone())),
            Entry::Policy(arn, doc) => drop(self.policies.insert(arn.clone(), doc.clone())),
        }
        self.by_key.insert(kv.key.clone(), entry);
    }
}

impl Mirror {
    /// Lists the entities once (so the mirror is complete before anything is served) and
    /// returns the mirror with the revision to follow from.
    pub async fn load(
        store: &dyn Store,
    ) -> Result<(Arc<Mirror>, Revision), keelson_store::StoreError> {
        let mirror = Arc::new(Mirror {
            state: RwLock::new(State::default()),
            revision: watch::channel(0).0,
        });
        let revision = mirror.relist(store).await?;
        Ok((mirror, revision))
    }

    async fn relist(&self, store: &dyn Store) -> Result<Revision, keelson_store::StoreError> {
        let listed = store.range(RangeRequest::prefix(keys::ENTITIES)).await?;
        let mut state = State::default();
        for kv in &listed.kvs {
            state.put(kv);
        }
        *self.state.write().expect("mirror lock") = state;
        self.revision.send_replace(listed.revision);
        Ok(listed.revision)
    }

    /// Follows the store until `shutdown`; relists after any watch failure.
    pub async fn follow(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        mut from: Revision,
        shutdown: CancellationToken,
    ) {
        loop {
            let mut events = match store.watch(keys::ENTITIES, from).await {
                Ok(events) => events,
                Err(err) => {
                    tracing::warn!(%err, "IAM mirror: watch failed; relisting");
                    if !self.pause_and_relist(&*store, &shutdown, &mut from).await {
                        return;
                    }
                    continue;
                }
            };
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    next = events.next() => next,
                };
                match next {
                    Some(Ok(event)) => {
                        {
                            let mut state = self.state.write().expect("mirror lock");
                            match event.kind {
                                EventKind::Put => state.put(&event.kv),
                                EventKind::Delete => state.remove(&event.kv.key),
                            }
                        }
                        from = event.revision();
                        self.revision.send_replace(from);
                    }
                    Some(Err(err)) => {
                        tracing::warn!(%err, "IAM mirror: watch ended; relisting");
                        break;
                    }
                    None => break,
                }
            }
            if !self.pause_and_relist(&*store, &shutdown, &mut from).await {
                return;
            }
        }
    }

    async fn pause_and_relist(
        &self,
        store: &dyn Store,
        shutdown: &CancellationToken,
        from: &mut Revision,
    ) -> bool {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            match self.relist(store).await {
                Ok(revision) => {
                    *from = revision;
                    return true;
                }
                Err(err) => tracing::warn!(%err, "IAM mirror: relist failed"),
            }
        }
    }

    /// Waits (bounded) until the mirror has seen `revision`.
    pub async fn caught_up(&self, revision: Revision) {
        let mut receiver = self.revision.subscribe();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            receiver.wait_for(|seen| *seen >= revision),
        )
        .await;
    }

    /// The policies that apply to a user (`role = false`) or role, with managed documents
    /// resolved; `None` when the entity does not exist.
    pub fn policies_of(&self, name: &str, role: bool) -> Option<Vec<Arc<PolicyDocument>>> {
        let state = self.state.read().expect("mirror lock");
        let key = name.to_ascii_lowercase();
        let attached = if role {
            state.roles.get(&key)
        } else {
            state.users.get(&key)
        }?;
        let mut docs = attached.inline.clone();
        for arn in &attached.managed_arns {
            if let Some(doc) = state.policies.get(arn) {
                docs.push(doc.clone());
            } else if let Some(doc) = crate::managed::aws_managed(arn) {
                docs.push(doc.document());
            }
        }
        Some(docs)
    }
}

impl Mirror {
    /// How many users and roles have `arn` attached.
    pub fn attachment_count(&self, arn: &str) -> usize {
        let state = self.state.read().expect("mirror lock");
        state
            .users
            .values()
            .chain(state.roles.values())
            .filter(|a| a.managed_arns.iter().any(|m| m == arn))
            .count()
    }
}
