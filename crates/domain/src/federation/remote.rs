//! Requests to other servers of the fediverse: fetching actors (for their keys and
//! inboxes) and objects, and delivering activities — signed with the blog's key, refused
//! towards loopback, private, link-local and metadata addresses and plain `http` unless
//! `--federation-allow-private`, limited in size and time, and never redirected.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use gazette_federation::signatures::{self, Request};
use gazette_store::federation::{self as store, RemoteActor};
use gazette_store::{PgPool, StoreError};
use serde_json::Value;

use super::{Federation, host_of};
use crate::webhooks::{EndpointRules, resolve_allowed};

/// A remote server has this long to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a fetched document that is read.
const DOCUMENT_BYTES: usize = 1024 * 1024;
/// A stored actor is fetched again when it is older than this.
const ACTOR_FRESH: TimeDelta = TimeDelta::hours(24);
/// What is asked for when fetching.
const ACCEPT: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The address may not be called (its scheme, or where it resolves).
    #[error("{0}")]
    Refused(String),
    /// The server says the document is gone (404 or 410).
    #[error("the document is gone")]
    Gone,
    #[error("{0}")]
    Failed(String),
    #[error("the database is not answering")]
    Store,
}

impl From<StoreError> for FetchError {
    fn from(error: StoreError) -> Self {
        tracing::warn!(error = %gazette_store::display_chain(&error), "federation cannot reach the database");
        FetchError::Store
    }
}

/// The blog's client for the fediverse.
#[derive(Debug, Clone)]
pub struct Remote {
    client: reqwest::Client,
    federation: Federation,
}

impl Remote {
    pub fn new(federation: &Federation) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: crate::outbound::client(federation.allow_private, TIMEOUT)?,
            federation: federation.clone(),
        })
    }

    fn rules(&self) -> EndpointRules {
        EndpointRules {
            allow_http: self.federation.allow_private,
            allow_private: self.federation.allow_private,
        }
    }

    /// Checks that `url` may be called: its scheme, credentials, and every address it
    /// resolves to (names are checked again as the connection resolves them).
    pub async fn check(&self, url: &str) -> Result<url::Url, FetchError> {
        let parsed =
            url::Url::parse(url).map_err(|_| FetchError::Refused(format!("{url} is not a URL")))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.federation.allow_private => {}
            _ => {
                return Err(FetchError::Refused(format!(
                    "{url} is not an https:// address (plain http only with --federation-allow-private)"
                )));
            }
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(FetchError::Refused(format!("{url} holds a user name")));
        }
        resolve_allowed(&parsed, self.rules())
            .await
            .map_err(|refused| FetchError::Refused(refused.to_string()))?;
        Ok(parsed)
    }

    /// `Date` and `Signature` headers for a request signed by the blog's key (and its
    /// `Digest`, for a body).
    pub fn signed_headers(
        &self,
        method: &str,
        url: &url::Url,
        body: Option<&[u8]>,
    ) -> Vec<(&'static str, String)> {
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let mut headers = vec![("host", host), ("date", date)];
        if let Some(body) = body {
            headers.push(("digest", signatures::digest(body)));
        }
        let names: Vec<&str> = std::iter::once("(request-target)")
            .chain(headers.iter().map(|(name, _)| *name))
            .collect();
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let request = Request {
            method,
            target: &target,
            headers: &pairs,
        };
        let site = &self.federation.site;
        if let Ok(signature) = signatures::sign(
            site.key.private(),
            &format!("{}#main-key", site.actor_id()),
            &request,
            &names,
        ) {
            headers.push(("signature", signature));
        }
        // reqwest sets Host from the URL itself.
        headers.retain(|(name, _)| *name != "host");
        headers
    }

    /// Fetches an ActivityPub document (a signed GET, which servers in "secure mode"
    /// require).
    pub async fn fetch(&self, url: &str) -> Result<Value, FetchError> {
        let parsed = self.check(url).await?;
        let mut request = self.client.get(parsed.clone()).header("accept", ACCEPT);
        for (name, value) in self.signed_headers("get", &parsed, None) {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|error| FetchError::Failed(gazette_store::display_chain(&error)))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            return Err(FetchError::Gone);
        }
        if !status.is_success() {
            return Err(FetchError::Failed(format!("{url} answered {status}")));
        }
        let body = crate::outbound::read_limited(response, DOCUMENT_BYTES)
            .await
            .ok_or_else(|| {
                FetchError::Failed(format!("{url} answered more than {DOCUMENT_BYTES} bytes"))
            })?;
        serde_json::from_slice(&body)
            .map_err(|_| FetchError::Failed(format!("{url} did not answer JSON")))
    }

    /// The actor whose key `key_id` names: as stored when fresh and `refresh` is false,
    /// else fetched (and stored).
    pub async fn actor_for_key(
        &self,
        pool: &PgPool,
        key_id: &str,
        refresh: bool,
    ) -> Result<RemoteActor, FetchError> {
        if !refresh
            && let Some(actor) = store::actor_by_key(pool, key_id).await?
            && actor.fetched_at > Utc::now() - ACTOR_FRESH
        {
            return Ok(actor);
        }
        let key_url = key_id.split('#').next().unwrap_or(key_id);
        let mut document = self.fetch(key_url).await?;
        // A key of its own (`{id, owner, publicKeyPem}`): its owner is the actor.
        if document.get("inbox").is_none()
            && let Some(owner) = document.get("owner").and_then(Value::as_str)
        {
            if host_of(owner) != host_of(key_url) {
                return Err(FetchError::Failed(format!(
                    "the key {key_id} names an owner on another host"
                )));
            }
            document = self.fetch(owner).await?;
        }
        let actor = read_actor(&document, key_id)?;
        if host_of(&actor.id) != host_of(key_url) {
            return Err(FetchError::Failed(format!(
                "the actor of key {key_id} is on another host"
            )));
        }
        store::save_actor(pool, &actor).await?;
        Ok(actor)
    }

    /// The actor `id`: as stored when fresh, else fetched (and stored).
    pub async fn actor(&self, pool: &PgPool, id: &str) -> Result<RemoteActor, FetchError> {
        if let Some(actor) = store::actor(pool, id).await?
            && actor.fetched_at > Utc::now() - ACTOR_FRESH
        {
            return Ok(actor);
        }
        let document = self.fetch(id).await?;
        let key_id = document
            .get("publicKey")
            .and_then(|key| match key {
                Value::Array(keys) => keys.first(),
                key => Some(key),
            })
            .and_then(|key| key.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let actor = read_actor(&document, &key_id)?;
        if actor.id != id {
            return Err(FetchError::Failed(format!("{id} answered another actor")));
        }
        store::save_actor(pool, &actor).await?;
        Ok(actor)
    }
}

/// What the blog keeps of an actor document whose key is `key_id`.
fn read_actor(document: &Value, key_id: &str) -> Result<RemoteActor, FetchError> {
    let failed = |what: &str| FetchError::Failed(format!("the actor document has no {what}"));
    let text = |name: &str| document.get(name).and_then(Value::as_str);
    let id = text("id").ok_or_else(|| failed("id"))?.to_owned();
    let inbox = text("inbox").ok_or_else(|| failed("inbox"))?.to_owned();
    let keys: Vec<&Value> = match document.get("publicKey") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        Some(key) => vec![key],
        None => Vec::new(),
    };
    let key = keys
        .into_iter()
        .find(|key| key.get("id").and_then(Value::as_str) == Some(key_id))
        .ok_or_else(|| failed(&format!("key {key_id}")))?;
    if key.get("owner").and_then(Value::as_str).unwrap_or(&id) != id {
        return Err(FetchError::Failed(format!(
            "the key {key_id} belongs to another actor"
        )));
    }
    let pem = key
        .get("publicKeyPem")
        .and_then(Value::as_str)
        .filter(|pem| signatures::public_key_from_pem(pem).is_some())
        .ok_or_else(|| failed("readable RSA public key"))?;
    let host = host_of(&id).ok_or_else(|| failed("URL as its id"))?;
    let name = text("name")
        .filter(|name| !name.trim().is_empty())
        .or_else(|| text("preferredUsername"))
        .unwrap_or_default();
    let profile_url = match document.get("url") {
        Some(Value::String(url)) => Some(url.clone()),
        Some(Value::Object(link)) => link.get("href").and_then(Value::as_str).map(str::to_owned),
        Some(Value::Array(links)) => links.iter().find_map(|link| match link {
            Value::String(url) => Some(url.clone()),
            link => link.get("href").and_then(Value::as_str).map(str::to_owned),
        }),
        _ => None,
    };
    let shared_inbox = document
        .pointer("/endpoints/sharedInbox")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let too_long = [Some(&id), Some(&inbox), shared_inbox.as_ref()]
        .into_iter()
        .flatten()
        .any(|url| url.len() > 2048);
    if too_long || pem.len() > 16384 {
        return Err(FetchError::Failed(
            "the actor document's addresses or key are too long".to_owned(),
        ));
    }
    Ok(RemoteActor {
        id,
        host,
        inbox,
        shared_inbox,
        key_id: key_id.to_owned(),
        public_key_pem: pem.to_owned(),
        name: name.chars().filter(|c| !c.is_control()).take(200).collect(),
        profile_url: profile_url.filter(|url| url.len() <= 2048),
        fetched_at: Utc::now(),
    })
}

/// What came of delivering an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Accepted(u16),
    /// The inbox answered with an error (its status) or not at all.
    Failed {
        code: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    /// The inbox may not be called.
    Refused(String),
}

impl Remote {
    /// POSTs `activity` (JSON text) to `inbox`, signed with the blog's key.
    pub async fn deliver(&self, inbox: &str, activity: &str) -> Delivered {
        let url = match self.check(inbox).await {
            Ok(url) => url,
            Err(refused) => return Delivered::Refused(refused.to_string()),
        };
        let body = activity.as_bytes().to_vec();
        let mut request = self
            .client
            .post(url.clone())
            .header("content-type", "application/activity+json");
        for (name, value) in self.signed_headers("post", &url, Some(&body)) {
            request = request.header(name, value);
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => {
                let error = match error.is_timeout() {
                    true => format!("No answer within {} seconds.", TIMEOUT.as_secs()),
                    false => gazette_store::display_chain(&error),
                };
                return Delivered::Failed {
                    code: None,
                    error,
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            return Delivered::Accepted(status.as_u16());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let answer = crate::outbound::read_limited(response, 4096)
            .await
            .unwrap_or_default();
        let answer: String = String::from_utf8_lossy(&answer)
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        Delivered::Failed {
            code: Some(status.as_u16()),
            error: format!("The inbox answered {status}: {answer}"),
            retry_after,
        }
    }
}
