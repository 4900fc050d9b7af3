//! IAM and STS for Keelson's regional service, as far as identities need: users, roles with
//! trust policies, access keys, inline and managed identity policies, and temporary
//! credentials from AssumeRole.
//!
//! [`Iam`] owns the account and its state (all in the store). The front door
//! (`keelson-regional`) asks it for the secret behind an access key ([`Iam::resolve`]) to verify
//! SigV4 signatures, and serves [`IamService`] and [`StsService`] (IAM's query protocol).
//! Other services authorize their callers through Iam's [`keelson_aws_core::Authorizer`]
//! implementation, which evaluates identity policies as IAM does.

mod api;
mod authz;
mod error;
mod ids;
mod managed;
mod mirror;
pub mod model;
pub mod policy;
mod query;
mod repo;
mod sts;

pub use api::IamService;
pub use error::IamError;
pub use managed::{AWS_MANAGED, AwsManagedPolicy};
pub use query::request_id;
pub use sts::StsService;

use std::sync::Arc;

use chrono::Utc;
use keelson_aws_core::{Principal, PrincipalKind};
use keelson_store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::Result;
use crate::mirror::Mirror;
use crate::model::{AccessKey, Account, Session, User, keys};

/// The XML namespaces of IAM's and STS's query-protocol responses.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

#[derive(Clone, Debug)]
pub struct IamConfig {
    /// The region the service answers for (`aws:RequestedRegion`).
    pub region: String,
    /// Whether the front door serves TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

/// The account's root access key, handed out once when the account is created.
#[derive(Clone)]
pub struct RootCredentials {
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl RootCredentials {
    /// The AWS shared-credentials file (`~/.aws/credentials` format), one `[default]` profile.
    pub fn shared_credentials_file(&self) -> String {
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            self.access_key_id, self.secret_access_key
        )
    }
}

/// The secret a request must have been signed with, and who signed it.
#[derive(Clone)]
pub struct SigningKey {
    pub secret_access_key: String,
    pub principal: Principal,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// What an access key id (and session token) resolves to.
#[derive(Debug)]
pub enum Resolution {
    Found(SigningKey),
    /// No such key, or an inactive one.
    UnknownKey,
    /// A temporary key without its session token, or with the wrong one.
    InvalidToken,
    ExpiredToken,
}

pub struct Iam {
    store: Arc<dyn Store>,
    account: Account,
    config: IamConfig,
    mirror: Arc<Mirror>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Iam {
    /// Opens the account in `store`, creating it (with a root access key, returned here once)
    /// on first use, and starts following the store for policy evaluation.
    pub async fn open(
        store: Arc<dyn Store>,
        config: IamConfig,
    ) -> Result<(Arc<Iam>, Option<RootCredentials>)> {
        let (account, root) = bootstrap(&*store).await?;
        let (mirror, revision) = Mirror::load(&*store).await?;
        let iam = Arc::new(Iam {
            store: store.clone(),
            account,
            config,
            mirror: mirror.clone(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        iam.tasks
            .spawn(mirror.follow(store, revision, iam.shutdown.clone()));
        Ok((iam, root))
    }

    /// Stops following the store.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    pub fn account_id(&self) -> &str {
        &self.account.account_id
    }

    pub fn region(&self) -> &str {
        &self.config.region
    }

    pub fn root_principal(&self, access_key_id: &str) -> Principal {
        Principal {
            account_id: self.account.account_id.clone(),
            arn: format!("arn:aws:iam::{}:root", self.account.account_id),
            user_id: self.account.account_id.clone(),
            access_key_id: access_key_id.to_string(),
            kind: PrincipalKind::Root,
        }
    }

    /// Looks up the secret of `access_key_id`, reading through the store (so keys created or
    /// deleted by another instance count at once).
    pub async fn resolve(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> std::result::Result<Resolution, IamError> {
        if access_key_id.starts_with("ASIA") {
            return self.resolve_session(access_key_id, session_token).await;
        }
        if session_token.is_some() {
            // Long-term keys have no session token; presenting one is an invalid token.
            return Ok(Resolution::InvalidToken);
        }
        let Some((key, _)) =
            repo::get::<AccessKey>(&*self.store, &keys::access_key(access_key_id)).await?
        else {
            return Ok(Resolution::UnknownKey);
        };
        if !key.active {
            return Ok(Resolution::UnknownKey);
        }
        let principal = match &key.user_name {
            None => self.root_principal(access_key_id),
            Some(name) => {
                let Some((user, _)) = repo::get::<User>(&*self.store, &keys::user(name)).await?
                else {
                    return Ok(Resolution::UnknownKey);
                };
                Principal {
                    account_id: self.account.account_id.clone(),
                    arn: user.arn,
                    user_id: user.user_id,
                    access_key_id: access_key_id.to_string(),
                    kind: PrincipalKind::User { name: user.name },
                }
            }
        };
        Ok(Resolution::Found(SigningKey {
            secret_access_key: key.secret_access_key,
            principal,
        }))
    }

    async fn resolve_session(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> std::result::Result<Resolution, IamError> {
        let Some((session, _)) =
            repo::get::<Session>(&*self.store, &keys::session(access_key_id)).await?
        else {
            return Ok(Resolution::UnknownKey);
        };
        let presented = session_token.map(|t| ids::sha256_hex(t.as_bytes()));
        let matches = presented.is_some_and(|p| {
            ids::constant_time_eq(p.as_bytes(), session.session_token_sha256.as_bytes())
        });
        if !matches {
            return Ok(Resolution::InvalidToken);
        }
        if session.expiration <= Utc::now() {
            return Ok(Resolution::ExpiredToken);
        }
        Ok(Resolution::Found(SigningKey {
            secret_access_key: session.secret_access_key,
            principal: Principal {
                account_id: self.account.account_id.clone(),
                arn: format!(
                    "arn:aws:sts::{}:assumed-role/{}/{}",
                    self.account.account_id, session.role_name, session.session_name
                ),
                user_id: format!("{}:{}", session.role_id, session.session_name),
                access_key_id: access_key_id.to_string(),
                kind: PrincipalKind::AssumedRole {
                    role_name: session.role_name,
                    role_arn: session.role_arn,
                    session_name: session.session_name,
                },
            },
        }))
    }
}

/// Creates the account record and the root's first access key unless the account exists.
async fn bootstrap(store: &dyn Store) -> Result<(Account, Option<RootCredentials>)> {
    if let Some((account, _)) = repo::get::<Account>(store, keys::ACCOUNT).await? {
        return Ok((account, None));
    }
    let key = AccessKey {
        access_key_id: ids::access_key_id(false),
        secret_access_key: ids::secret_access_key(),
        user_name: None,
        active: true,
        created: Utc::now(),
    };
    let account = Account {
        account_id: ids::account_id(),
        created: key.created,
        root_access_keys: vec![key.access_key_id.clone()],
    };
    let key_path = keys::access_key(&key.access_key_id);
    repo::create(store, &key_path, &key, None).await?;
    if repo::create(store, keys::ACCOUNT, &account, None)
        .await?
        .is_none()
    {
        // Another instance created the account first: ours was never handed out.
        store.delete(&key_path, None).await?;
        let (account, _) = repo::get::<Account>(store, keys::ACCOUNT)
            .await?
            .expect("the account exists: creating it just conflicted");
        return Ok((account, None));
    }
    tracing::info!(account_id = %account.account_id, "created the account and its root access key");
    let root = RootCredentials {
        account_id: account.account_id.clone(),
        access_key_id: key.access_key_id,
        secret_access_key: key.secret_access_key,
    };
    Ok((account, Some(root)))
}
