//! Requests to other servers of the fediverse: fetching actors (for their keys and
//! inboxes) and objects, and delivering activities — signed with the blog's key, refused
//! towards loopback, private, link-local and metadata addresses and plain `http` unless
//! `--federation-allow-private`, limited in size and time, and never redirected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use gazette_federation::signatures::{self, Request};
use gazette_store::federation::{self as store, RemoteActor};
use gazette_store::{PgPool, StoreError};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::{Federation, host_of};
use crate::outbound::Purpose;
use crate::webhooks::{EndpointRules, resolve_allowed};

/// A remote server has this long to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a fetched document that is read.
const DOCUMENT_BYTES: usize = 1024 * 1024;
/// A stored actor is fetched again when it is older than this.
const ACTOR_FRESH: TimeDelta = TimeDelta::hours(24);
/// A key that could not be fetched is not tried again for this long.
const FAILURE_BACKOFF: Duration = Duration::from_secs(300);
/// An actor fetched for a key whose signature did not verify is used again for this long.
const FETCHED_KEPT: Duration = Duration::from_secs(60);
const MAX_REMEMBERED: usize = 10_000;
/// Follows and replies sent by the blog's staff at once, per process.
const MAX_OUTREACH: usize = 2;
/// Fetches under way at once, per process.
const MAX_FETCHES: usize = 16;
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
    /// Recent fetches of keys, by the key's address: failures, and actors not yet vouched
    /// for by a verified signature.
    recent: Arc<Mutex<HashMap<String, Remembered>>>,
    fetches: Arc<Semaphore>,
    /// Whose requests this one makes: the API's fetch what inbound requests name, the
    /// worker's deliver (their names are looked up in separate pools).
    purpose: Purpose,
    /// Follows and replies the blog's staff send: each holds a GraphQL slot while it
    /// fetches, so few at once.
    outreach: Arc<Semaphore>,
}

impl Remote {
    pub fn new(federation: &Federation, purpose: Purpose) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: crate::outbound::client(federation.allow_private, TIMEOUT, purpose)?,
            purpose,
            federation: federation.clone(),
            recent: Arc::default(),
            fetches: Arc::new(Semaphore::new(MAX_FETCHES)),
            outreach: Arc::new(Semaphore::new(MAX_OUTREACH)),
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
        // The webhook check's own sentence names webhooks and their flag: federation
        // says it in its own words (admins read it in `federationDeliveries`).
        resolve_allowed(&parsed, self.rules(), self.purpose).await.map_err(|_| {
            FetchError::Refused(format!(
                "{} does not resolve, or resolves to a loopback, private, link-local or reserved address, which federation may not call (--federation-allow-private allows it)",
                parsed.host_str().unwrap_or_default()
            ))
        })?;
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
        // Fetches under way at once are capped: unsigned requests can name keys to fetch.
        // The cap covers the name look-up too, which can take seconds.
        let _permit = self
            .fetches
            .acquire()
            .await
            .map_err(|_| FetchError::Failed("shutting down".to_owned()))?;
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
        let json_like = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|media_type| {
                let media_type = media_type.to_ascii_lowercase();
                media_type.starts_with("application/activity+json")
                    || media_type.starts_with("application/ld+json")
                    || media_type.starts_with("application/json")
            });
        if !json_like {
            return Err(FetchError::Failed(format!(
                "{url} did not answer an ActivityPub document"
            )));
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
    /// else fetched. A fetched actor is not stored here: the caller stores it once a
    /// signature made with its key has verified ([`Found::Fetched`]), so a request with a
    /// bad signature changes nothing.
    ///
    /// A document speaks for the address it was fetched from only: the actor document's
    /// `id` must be the address fetched (the key's without its fragment, or the key
    /// document's `owner`), and a key document's `id` the key's. A file uploaded to the
    /// same host cannot pose as one of its accounts.
    pub async fn actor_for_key(
        &self,
        pool: &PgPool,
        key_id: &str,
        refresh: bool,
    ) -> Result<Found, FetchError> {
        if !refresh
            && let Some(actor) = store::actor_by_key(pool, key_id).await?
            && actor.fetched_at > Utc::now() - ACTOR_FRESH
        {
            return Ok(Found::Stored(actor));
        }
        // What was fetched from the key's address a moment ago (a failure to fetch it, or
        // the actor and its keys, not yet vouched for by a signature) is not fetched again:
        // a flood of requests naming keys there makes one fetch, not one each, whatever
        // fragment or query they add. A key the document does not list fails for that key
        // id alone: a request naming a key that does not exist cannot make an actor's real
        // key fail for others.
        let key_url = key_url_of(key_id);
        if let Some(recent) = self.recent(&key_url, refresh) {
            return recent
                .and_then(|keys| keys.with_key(key_id))
                .map(Found::Fetched);
        }
        let fetched = self.fetch_actor_for_key(&key_url).await;
        if !matches!(fetched, Err(FetchError::Store)) {
            self.remember(key_url, &fetched);
        }
        fetched
            .and_then(|keys| keys.with_key(key_id))
            .map(Found::Fetched)
    }

    /// The actor, with the keys it lists, whose key is at `key_url` (a key's address
    /// without fragment or query): the actor document there, or the owner named by a
    /// key document there. What fails here fails for every key id at that address.
    async fn fetch_actor_for_key(&self, key_url: &str) -> Result<ActorKeys, FetchError> {
        let mut document = self.fetch(key_url).await?;
        let mut actor_url = key_url.to_owned();
        // A key of its own (`{id, owner, publicKeyPem}`): its owner is the actor.
        if document.get("inbox").is_none()
            && let Some(owner) = document.get("owner").and_then(Value::as_str)
        {
            let id = document
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if key_url_of(id) != key_url {
                return Err(FetchError::Failed(format!(
                    "the document at {key_url} is another key"
                )));
            }
            if host_of(owner) != host_of(key_url) {
                return Err(FetchError::Failed(format!(
                    "the key at {key_url} names an owner on another host"
                )));
            }
            actor_url = owner.to_owned();
            document = self.fetch(owner).await?;
        }
        let keys = read_actor_keys(&document)?;
        if keys.actor.id != actor_url {
            return Err(FetchError::Failed(format!(
                "the document at {actor_url} says it is another actor"
            )));
        }
        Ok(keys)
    }

    /// Fetches the actor at `id` (its document must say it is that actor), to follow or
    /// answer it; not stored here. Its key is kept only when it is in the actor's own
    /// document (`<id>#…`): a key named elsewhere is for a signature to vouch for, and
    /// is fetched then (so no document can claim another actor's key).
    pub async fn fetch_actor(&self, id: &str) -> Result<RemoteActor, FetchError> {
        let keys = read_actor_keys(&self.fetch(id).await?)?;
        if keys.actor.id != id {
            return Err(FetchError::Failed(format!(
                "the document at {id} says it is another actor"
            )));
        }
        let own_key = keys
            .keys
            .iter()
            .find(|(key_id, _)| key_url_of(key_id) == id)
            .map(|(key_id, _)| key_id.clone());
        match own_key {
            Some(key_id) => keys.with_key(&key_id),
            None => Ok(keys.actor),
        }
    }

    /// A permit to reach out (follow, reply) now, if fewer than two are under way.
    pub fn outreach_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.outreach.clone().try_acquire_owned().ok()
    }

    /// A signature made with this key verified, and its actor is stored: what was
    /// remembered of fetching it is dropped (the stored actor is the record now).
    pub fn vouched_for(&self, key_id: &str) {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&key_url_of(key_id));
    }

    /// A fetch from `key_url` remembered and still good: a failure, or the actor and its
    /// keys (not when `refresh`).
    fn recent(&self, key_url: &str, refresh: bool) -> Option<Result<ActorKeys, FetchError>> {
        let recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let remembered = recent.get(key_url)?;
        if remembered.until <= Instant::now() {
            return None;
        }
        match &remembered.result {
            Err(error) => Some(Err(error.clone())),
            Ok(keys) if !refresh => Some(Ok(keys.clone())),
            Ok(_) => None,
        }
    }

    fn remember(&self, key_url: String, result: &Result<ActorKeys, FetchError>) {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if recent.len() >= MAX_REMEMBERED {
            recent.retain(|_, remembered| remembered.until > now);
        }
        if recent.len() >= MAX_REMEMBERED {
            return;
        }
        let until = now
            + match result {
                Ok(_) => FETCHED_KEPT,
                Err(_) => FAILURE_BACKOFF,
            };
        recent.insert(
            key_url,
            Remembered {
                result: result.clone(),
                until,
            },
        );
    }
}

/// A key's address: its id without fragment or query.
fn key_url_of(key_id: &str) -> String {
    key_id.split(['#', '?']).next().unwrap_or(key_id).to_owned()
}

/// What a fetch for a key gave, and until when it is used instead of fetching again.
#[derive(Debug, Clone)]
struct Remembered {
    result: Result<ActorKeys, FetchError>,
    until: Instant,
}

/// An actor as its document says (without a key), and the keys it lists as its own.
#[derive(Debug, Clone)]
struct ActorKeys {
    actor: RemoteActor,
    /// Each key's id and PEM.
    keys: Vec<(String, String)>,
}

impl ActorKeys {
    /// The actor with its key `key_id`.
    fn with_key(&self, key_id: &str) -> Result<RemoteActor, FetchError> {
        let (_, pem) = self
            .keys
            .iter()
            .find(|(id, _)| id == key_id)
            .ok_or_else(|| {
                FetchError::Failed(format!(
                    "the actor document lists no readable RSA key {key_id} of its own"
                ))
            })?;
        Ok(RemoteActor {
            key_id: key_id.to_owned(),
            public_key_pem: pem.clone(),
            ..self.actor.clone()
        })
    }
}

/// An actor found for a key: as stored, or fetched just now (to be stored once its
/// signature verified).
#[derive(Debug, Clone)]
pub enum Found {
    Stored(RemoteActor),
    Fetched(RemoteActor),
}

impl Found {
    pub fn actor(&self) -> &RemoteActor {
        match self {
            Found::Stored(actor) | Found::Fetched(actor) => actor,
        }
    }
}

/// The most keys read from one actor document.
const MAX_KEYS: usize = 8;

/// What the blog keeps of an actor document, and the keys it lists as the actor's own
/// (no `owner`, or the actor as owner) with a readable RSA public key; at most
/// [`MAX_KEYS`], with ids of at most 2,048 bytes (the column's index holds them).
fn read_actor_keys(document: &Value) -> Result<ActorKeys, FetchError> {
    let actor = read_actor_without_key(document)?;
    let listed: Vec<&Value> = match document.get("publicKey") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        Some(key) => vec![key],
        None => Vec::new(),
    };
    let keys = listed
        .into_iter()
        .filter(|key| {
            key.get("owner")
                .and_then(Value::as_str)
                .is_none_or(|owner| owner == actor.id)
        })
        .filter_map(|key| {
            let id = key.get("id").and_then(Value::as_str)?;
            let pem = key.get("publicKeyPem").and_then(Value::as_str)?;
            let readable = pem.len() <= 16384 && signatures::public_key_from_pem(pem).is_some();
            (id.len() <= 2048 && readable).then(|| (id.to_owned(), pem.to_owned()))
        })
        .take(MAX_KEYS)
        .collect();
    Ok(ActorKeys { actor, keys })
}

/// What the blog keeps of an actor document, but its key.
fn read_actor_without_key(document: &Value) -> Result<RemoteActor, FetchError> {
    let failed = |what: &str| FetchError::Failed(format!("the actor document has no {what}"));
    let text = |name: &str| document.get(name).and_then(Value::as_str);
    let id = text("id").ok_or_else(|| failed("id"))?.to_owned();
    // Ids are compared as text (blocks, follows, replies): an id has one spelling, the
    // URL's own, so nobody escapes a block by writing theirs in capitals or with `/./`.
    if url::Url::parse(&id).map(String::from).as_deref() != Ok(id.as_str()) {
        return Err(FetchError::Failed(format!(
            "the actor's id {id} is not a URL written in its usual form"
        )));
    }
    let inbox = text("inbox").ok_or_else(|| failed("inbox"))?.to_owned();
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
    // Deliveries go to the actor's own server only: an inbox elsewhere would make the
    // blog post signed activities to an address of the actor's choosing.
    let elsewhere = [Some(&inbox), shared_inbox.as_ref()]
        .into_iter()
        .flatten()
        .any(|url| host_of(url).as_deref() != Some(host.as_str()));
    if elsewhere {
        return Err(FetchError::Failed(
            "the actor's inbox is on another host".to_owned(),
        ));
    }
    let too_long = [Some(&id), Some(&inbox), shared_inbox.as_ref()]
        .into_iter()
        .flatten()
        .any(|url| url.len() > 2048);
    if too_long {
        return Err(FetchError::Failed(
            "the actor document's addresses or key are too long".to_owned(),
        ));
    }
    Ok(RemoteActor {
        id,
        host,
        inbox,
        shared_inbox,
        key_id: String::new(),
        public_key_pem: String::new(),
        name: display_name(name),
        profile_url: profile_url.filter(|url| {
            url.len() <= 2048 && (url.starts_with("https://") || url.starts_with("http://"))
        }),
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
        let (retry_after, answer) = crate::outbound::refusal(response).await;
        Delivered::Failed {
            code: Some(status.as_u16()),
            error: format!("The inbox answered {status}: {answer}"),
            retry_after,
        }
    }
}

/// A remote name as a byline may show it: without control, direction-changing or
/// invisible characters (which would garble or spoof the byline), at most 200 characters.
fn display_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| *c == ' ' || (!c.is_control() && crate::commenting::is_visible(*c)))
        .take(200)
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}
