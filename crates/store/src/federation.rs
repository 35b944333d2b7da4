//! ActivityPub federation's rows (migration 0017): remote actors and their keys, the
//! blog's followers, blocks, replies that came from the fediverse, likes and boosts, the
//! queue of events to fan out, and deliveries to remote inboxes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::delivery_rows::{DeliveryTable, failure_text};
use crate::error::StoreError;

/// A remote actor as last fetched.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RemoteActor {
    pub id: String,
    pub host: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub key_id: String,
    pub public_key_pem: String,
    pub name: String,
    pub profile_url: Option<String>,
    pub fetched_at: DateTime<Utc>,
}

const ACTOR_COLUMNS: &str =
    "id, host, inbox, shared_inbox, key_id, public_key_pem, name, profile_url, fetched_at";

/// Stores (or refreshes) an actor as fetched; one fetched without its key (`key_id`
/// empty) keeps the key stored before.
pub async fn save_actor(exec: impl PgExecutor<'_>, actor: &RemoteActor) -> Result<(), StoreError> {
    sqlx::query(
        "insert into federation_actors (id, host, inbox, shared_inbox, key_id, public_key_pem, name, profile_url, fetched_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, now()) \
         on conflict (id) do update set host = excluded.host, inbox = excluded.inbox, \
                          shared_inbox = excluded.shared_inbox, \
             key_id = case when excluded.key_id = '' then federation_actors.key_id else excluded.key_id end, \
             public_key_pem = case when excluded.key_id = '' then federation_actors.public_key_pem \
                 else excluded.public_key_pem end, \
             name = excluded.name, \
             profile_url = excluded.profile_url, fetched_at = now()",
    )
    .bind(&actor.id)
    .bind(&actor.host)
    .bind(&actor.inbox)
    .bind(&actor.shared_inbox)
    .bind(&actor.key_id)
    .bind(&actor.public_key_pem)
    .bind(&actor.name)
    .bind(&actor.profile_url)
    .execute(exec)
    .await?;
    Ok(())
}

/// The actor whose key `key_id` names, as last fetched.
pub async fn actor_by_key(
    exec: impl PgExecutor<'_>,
    key_id: &str,
) -> Result<Option<RemoteActor>, StoreError> {
    let actor = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ACTOR_COLUMNS} from federation_actors where key_id = $1 order by fetched_at desc limit 1"
    )))
    .bind(key_id)
    .fetch_optional(exec)
    .await?;
    Ok(actor)
}

pub async fn actor(exec: impl PgExecutor<'_>, id: &str) -> Result<Option<RemoteActor>, StoreError> {
    let actor = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ACTOR_COLUMNS} from federation_actors where id = $1"
    )))
    .bind(id)
    .fetch_optional(exec)
    .await?;
    Ok(actor)
}

/// Forgets an actor (it was deleted): its follow goes with it.
pub async fn forget_actor(exec: impl PgExecutor<'_>, id: &str) -> Result<(), StoreError> {
    sqlx::query("delete from federation_actors where id = $1")
        .bind(id)
        .execute(exec)
        .await?;
    Ok(())
}

/// Adds or renews a follower; `accepted` false leaves it for an admin.
pub async fn add_follower(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
    follow_id: &str,
    accepted: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into federation_followers (actor_id, follow_id, state) \
         values ($1, $2, case when $3 then 'accepted' else 'pending' end) \
         on conflict (actor_id) do update set follow_id = excluded.follow_id, \
             state = case when federation_followers.state = 'accepted' then 'accepted' else excluded.state end",
    )
    .bind(actor_id)
    .bind(follow_id)
    .bind(accepted)
    .execute(exec)
    .await?;
    Ok(())
}

/// A follower, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Follower {
    pub actor_id: String,
    pub follow_id: String,
    pub state: String,
    pub name: String,
    pub host: String,
    pub created_at: DateTime<Utc>,
}

pub async fn follower(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
) -> Result<Option<Follower>, StoreError> {
    let follower = sqlx::query_as(
        "select f.actor_id, f.follow_id, f.state, a.name, a.host, f.created_at \
         from federation_followers f join federation_actors a on a.id = f.actor_id where f.actor_id = $1",
    )
    .bind(actor_id)
    .fetch_optional(exec)
    .await?;
    Ok(follower)
}

/// Followers, newest first, `limit` after `offset`.
pub async fn followers(
    exec: impl PgExecutor<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Follower>, StoreError> {
    let followers = sqlx::query_as(
        "select f.actor_id, f.follow_id, f.state, a.name, a.host, f.created_at \
         from federation_followers f join federation_actors a on a.id = f.actor_id \
         order by f.created_at desc, f.actor_id limit $1 offset $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(exec)
    .await?;
    Ok(followers)
}

/// Removes a follower; whether there was one.
pub async fn remove_follower(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
) -> Result<bool, StoreError> {
    let removed = sqlx::query("delete from federation_followers where actor_id = $1")
        .bind(actor_id)
        .execute(exec)
        .await?;
    Ok(removed.rows_affected() > 0)
}

/// Accepts a pending follower; whether there was one.
pub async fn accept_follower(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
) -> Result<bool, StoreError> {
    let accepted = sqlx::query(
        "update federation_followers set state = 'accepted' where actor_id = $1 and state = 'pending'",
    )
    .bind(actor_id)
    .execute(exec)
    .await?;
    Ok(accepted.rows_affected() > 0)
}

/// Accepted followers' ids, oldest first, `limit` after `offset`.
pub async fn accepted_follower_ids(
    exec: impl PgExecutor<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<String>, StoreError> {
    let ids = sqlx::query_scalar(
        "select actor_id from federation_followers where state = 'accepted' \
         order by created_at, actor_id limit $1 offset $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(exec)
    .await?;
    Ok(ids)
}

/// Accepted followers.
pub async fn follower_count(exec: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    let count =
        sqlx::query_scalar("select count(*) from federation_followers where state = 'accepted'")
            .fetch_one(exec)
            .await?;
    Ok(count)
}

/// Where to deliver to every accepted follower: each instance's shared inbox once, or the
/// follower's own inbox; blocked actors and instances left out.
pub async fn follower_inboxes(exec: impl PgExecutor<'_>) -> Result<Vec<String>, StoreError> {
    let inboxes = sqlx::query_scalar(
        "select distinct coalesce(a.shared_inbox, a.inbox) from federation_followers f \
         join federation_actors a on a.id = f.actor_id \
         where f.state = 'accepted' and not federation_instance_blocked(a.host) \
           and not exists (select 1 from federation_blocks b where b.kind = 'actor' and b.value = a.id) \
         order by 1",
    )
    .fetch_all(exec)
    .await?;
    Ok(inboxes)
}

/// Whether the actor or its host is blocked.
pub async fn is_blocked(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
    host: &str,
) -> Result<bool, StoreError> {
    let blocked = sqlx::query_scalar(
        "select federation_instance_blocked($2) \
             or exists (select 1 from federation_blocks where kind = 'actor' and value = $1)",
    )
    .bind(actor_id)
    .bind(host)
    .fetch_one(exec)
    .await?;
    Ok(blocked)
}

/// Records that the activity `activity_id` was received; false when it was already
/// (within the last day: older receipts are forgotten as new ones come).
pub async fn first_receipt(
    exec: impl PgExecutor<'_>,
    activity_id: &str,
) -> Result<bool, StoreError> {
    let first = sqlx::query_scalar(
        "with forgotten as (delete from federation_received where received_at < now() - interval '1 day' \
             and activity_id in (select activity_id from federation_received \
                 where received_at < now() - interval '1 day' limit 100)) \
         insert into federation_received (activity_id) values ($1) \
         on conflict (activity_id) do nothing returning true",
    )
    .bind(activity_id)
    .fetch_optional(exec)
    .await?;
    Ok(first.unwrap_or(false))
}

/// Forgets a receipt (the activity was not taken after all: a retry must be heard).
pub async fn forget_receipt(
    exec: impl PgExecutor<'_>,
    activity_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("delete from federation_received where activity_id = $1")
        .bind(activity_id)
        .execute(exec)
        .await?;
    Ok(())
}

/// A block, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Block {
    pub kind: String,
    pub value: String,
    pub created_at: DateTime<Utc>,
}

/// Blocks an actor (`kind` "actor") or an instance ("instance"): its follows, and for an
/// actor its replies, go with it. Deliveries still waiting for it are given up: all of an
/// instance's, and those to an actor's inbox or shared inbox when no other actor known
/// here uses it.
pub async fn block(
    exec: impl PgExecutor<'_>,
    kind: &str,
    value: &str,
) -> Result<Block, StoreError> {
    let block = sqlx::query_as(
        "with b as (insert into federation_blocks (kind, value) values ($1, $2) \
             on conflict (kind, value) do update set kind = excluded.kind returning *), \
                  blocked as (select a.id, a.host from federation_actors a \
             where ($1 = 'actor' and a.id = $2) or ($1 = 'instance' and ( \
                 a.host = $2 or federation_hostname(a.host) = $2 \
                 or right(federation_hostname(a.host), char_length($2) + 1) = '.' || $2))), \
         unfollowed as (delete from federation_followers f using blocked where blocked.id = f.actor_id), \
         unfollowing as (delete from federation_following f using blocked where blocked.id = f.actor_id), \
         cancelled as (update federation_deliveries d set status = 'failed', leased_until = null, \
             last_error = 'The receiver was blocked.' \
             where d.status = 'pending' and (($1 = 'instance' and (d.host = $2 \
                 or federation_hostname(d.host) = $2 \
                 or right(federation_hostname(d.host), char_length($2) + 1) = '.' || $2)) \
               or ($1 = 'actor' and d.inbox in (select i.inbox from federation_actors a \
                 cross join lateral unnest(array[a.inbox, a.shared_inbox]) as i(inbox) \
                 where a.id = $2 and i.inbox is not null and not exists ( \
                     select 1 from federation_actors o \
                     where o.id <> a.id and (o.inbox = i.inbox or o.shared_inbox = i.inbox)))))) \
         select kind, value, created_at from b",
    )
    .bind(kind)
    .bind(value)
    .fetch_one(exec)
    .await?;
    Ok(block)
}

pub async fn unblock(
    exec: impl PgExecutor<'_>,
    kind: &str,
    value: &str,
) -> Result<bool, StoreError> {
    let removed = sqlx::query("delete from federation_blocks where kind = $1 and value = $2")
        .bind(kind)
        .bind(value)
        .execute(exec)
        .await?;
    Ok(removed.rows_affected() > 0)
}

pub async fn blocks(exec: impl PgExecutor<'_>, limit: i64) -> Result<Vec<Block>, StoreError> {
    let blocks = sqlx::query_as(
        "select kind, value, created_at from federation_blocks order by created_at desc, value limit $1",
    )
    .bind(limit)
    .fetch_all(exec)
    .await?;
    Ok(blocks)
}

/// A reply from the fediverse: its comment and the remote actor that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FederatedComment {
    pub comment_id: i64,
    pub object_id: String,
    pub actor_id: String,
}

/// Remembers that `comment_id` is the remote `object_id` (a retried delivery keeps the
/// first).
pub async fn link_comment(
    exec: impl PgExecutor<'_>,
    comment_id: i64,
    object_id: &str,
    actor_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into federation_comments (comment_id, object_id, actor_id) values ($1, $2, $3) \
         on conflict do nothing",
    )
    .bind(comment_id)
    .bind(object_id)
    .bind(actor_id)
    .execute(exec)
    .await?;
    Ok(())
}

/// The comment a remote note is: `actor_id`'s note of that id, or (without an actor) the
/// first comment made of that id.
pub async fn comment_by_object(
    exec: impl PgExecutor<'_>,
    object_id: &str,
    actor_id: Option<&str>,
) -> Result<Option<FederatedComment>, StoreError> {
    let found = sqlx::query_as(
        "select comment_id, object_id, actor_id from federation_comments \
         where object_id = $1 and ($2::text is null or actor_id = $2) order by comment_id limit 1",
    )
    .bind(object_id)
    .bind(actor_id)
    .fetch_optional(exec)
    .await?;
    Ok(found)
}

pub async fn comment_by_id(
    exec: impl PgExecutor<'_>,
    comment_id: i64,
) -> Result<Option<FederatedComment>, StoreError> {
    let found = sqlx::query_as(
        "select comment_id, object_id, actor_id from federation_comments where comment_id = $1",
    )
    .bind(comment_id)
    .fetch_optional(exec)
    .await?;
    Ok(found)
}

/// The comments an actor sent.
pub async fn comments_of_actor(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar("select comment_id from federation_comments where actor_id = $1")
        .bind(actor_id)
        .fetch_all(exec)
        .await?;
    Ok(ids)
}

/// Counts a like or boost (once per actor and post); whether it was new.
pub async fn add_reaction(
    exec: impl PgExecutor<'_>,
    activity_id: &str,
    kind: &str,
    post_id: i64,
    actor_id: &str,
) -> Result<bool, StoreError> {
    let added = sqlx::query(
        "insert into federation_reactions (activity_id, kind, post_id, actor_id) values ($1, $2, $3, $4) \
         on conflict do nothing",
    )
    .bind(activity_id)
    .bind(kind)
    .bind(post_id)
    .bind(actor_id)
    .execute(exec)
    .await?;
    Ok(added.rows_affected() > 0)
}

/// Takes a like or boost back (by its activity, which must be the actor's).
pub async fn remove_reaction(
    exec: impl PgExecutor<'_>,
    activity_id: &str,
    actor_id: &str,
) -> Result<bool, StoreError> {
    let removed =
        sqlx::query("delete from federation_reactions where activity_id = $1 and actor_id = $2")
            .bind(activity_id)
            .bind(actor_id)
            .execute(exec)
            .await?;
    Ok(removed.rows_affected() > 0)
}

/// Likes and boosts of each post: `(post id, likes, boosts)`.
pub async fn reaction_counts(
    exec: impl PgExecutor<'_>,
    post_ids: &[i64],
) -> Result<Vec<(i64, i64, i64)>, StoreError> {
    let counts = sqlx::query_as(
        "select post_id, count(*) filter (where kind = 'like'), count(*) filter (where kind = 'announce') \
         from federation_reactions where post_id = any($1) group by post_id",
    )
    .bind(post_ids)
    .fetch_all(exec)
    .await?;
    Ok(counts)
}

/// An outbox event claimed for fan-out.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct QueuedEvent {
    pub event_id: i64,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The event's data, as JSON text.
    pub data: String,
}

/// Claims up to `limit` queued events (skipping those another worker holds) in the
/// caller's transaction, which deletes them from the queue when it commits.
pub async fn claim_queued(
    exec: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<QueuedEvent>, StoreError> {
    let events = sqlx::query_as(
        "with due as (select event_id from federation_queue order by event_id limit $1 \
             for update skip locked), \
         gone as (delete from federation_queue q using due where q.event_id = due.event_id returning q.event_id) \
         select e.id as event_id, e.type as event_type, e.occurred_at, e.data::text as data \
         from gone join outbox_events e on e.id = gone.event_id order by e.id",
    )
    .bind(limit)
    .fetch_all(exec)
    .await?;
    Ok(events)
}

/// Queues `activity` (JSON text) for each inbox.
pub async fn queue_deliveries(
    exec: impl PgExecutor<'_>,
    inboxes: &[String],
    hosts: &[String],
    activity_json: &str,
) -> Result<u64, StoreError> {
    let queued = sqlx::query(
        "insert into federation_deliveries (inbox, host, activity) \
         select i.inbox, i.host, $3::jsonb from unnest($1::text[], $2::text[]) as i(inbox, host)",
    )
    .bind(inboxes)
    .bind(hosts)
    .bind(activity_json)
    .execute(exec)
    .await?;
    Ok(queued.rows_affected())
}

/// A delivery a worker claimed.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub inbox: String,
    pub host: String,
    /// The activity, as JSON text.
    pub activity: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// Claims up to `limit` due deliveries for `lease`, none to the instances in `busy` (host
/// names without ports, as `federation_hostname` gives them).
pub async fn claim_deliveries(
    exec: impl PgExecutor<'_>,
    limit: i64,
    lease: Duration,
    busy: &[String],
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let claimed = sqlx::query_as(
        "with due as ( \
             select d.id from federation_deliveries d \
             where d.status = 'pending' and d.next_attempt_at <= now() \
               and (d.leased_until is null or d.leased_until < now()) \
               and not (federation_hostname(d.host) = any($3)) \
             order by d.next_attempt_at, d.id limit $1 \
             for update skip locked) \
         update federation_deliveries d set leased_until = now() + make_interval(secs => $2), \
             attempts = d.attempts + 1, last_attempt_at = now() \
         from due where d.id = due.id \
         returning d.id, d.inbox, d.host, d.activity::text as activity, d.attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .bind(busy)
    .fetch_all(exec)
    .await?;
    Ok(claimed)
}

/// Gives claimed deliveries back untried.
pub async fn hand_back_deliveries(
    exec: impl PgExecutor<'_>,
    ids: &[i64],
) -> Result<(), StoreError> {
    DeliveryTable::Federation.hand_back(exec, ids).await
}

pub async fn record_delivered(
    exec: impl PgExecutor<'_>,
    id: i64,
    response_code: i32,
) -> Result<(), StoreError> {
    sqlx::query(sqlx::AssertSqlSafe(DeliveryTable::Federation.delivered("")))
        .bind(id)
        .bind(response_code)
        .execute(exec)
        .await?;
    Ok(())
}

/// The attempt failed: tried again at `retry_at`, or given up when `None`.
pub async fn record_failed(
    exec: impl PgExecutor<'_>,
    id: i64,
    response_code: Option<i32>,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    sqlx::query(sqlx::AssertSqlSafe(DeliveryTable::Federation.failed("")))
        .bind(id)
        .bind(response_code)
        .bind(failure_text(error))
        .bind(retry_at)
        .execute(exec)
        .await?;
    Ok(())
}

/// A delivery as stored, for admins and tests.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub inbox: String,
    pub activity_type: String,
    pub status: String,
    pub attempts: i32,
    pub last_response_code: Option<i32>,
    pub last_error: Option<String>,
}

/// The latest deliveries, newest first.
pub async fn recent_deliveries(
    exec: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let deliveries = sqlx::query_as(
        "select id, inbox, coalesce(activity->>'type', '') as activity_type, status, attempts, \
             last_response_code, last_error from federation_deliveries order by id desc limit $1",
    )
    .bind(limit)
    .fetch_all(exec)
    .await?;
    Ok(deliveries)
}

/// Deliveries waiting to be attempted.
pub async fn backlog(exec: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    let count =
        sqlx::query_scalar("select count(*) from federation_deliveries where status = 'pending'")
            .fetch_one(exec)
            .await?;
    Ok(count)
}

/// Forgets finished deliveries older than `age`.
pub async fn prune(exec: impl PgExecutor<'_>, age: Duration) -> Result<u64, StoreError> {
    let pruned = sqlx::query(
        "delete from federation_deliveries where status <> 'pending' \
         and created_at < now() - make_interval(secs => $1)",
    )
    .bind(age.as_secs_f64())
    .execute(exec)
    .await?;
    Ok(pruned.rows_affected())
}

/// Whom the blog follows.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Followed {
    pub actor_id: String,
    pub follow_id: String,
    pub state: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Records a follow the blog sent (pending until accepted); a follow sent again keeps
/// its first id.
pub async fn add_following(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
    follow_id: &str,
) -> Result<Followed, StoreError> {
    let followed = sqlx::query_as(
        "with f as (insert into federation_following (actor_id, follow_id) values ($1, $2) \
             on conflict (actor_id) do update set actor_id = excluded.actor_id returning *) \
         select f.actor_id, f.follow_id, f.state, a.name, f.created_at \
         from f join federation_actors a on a.id = f.actor_id",
    )
    .bind(actor_id)
    .bind(follow_id)
    .fetch_one(exec)
    .await?;
    Ok(followed)
}

/// Marks the blog's follow `follow_id` accepted by `actor_id` (or, `accepted` false,
/// rejected: forgotten); whether it was there.
pub async fn settle_following(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
    follow_id: &str,
    accepted: bool,
) -> Result<bool, StoreError> {
    let query = match accepted {
        true => {
            "update federation_following set state = 'accepted' where actor_id = $1 and follow_id = $2"
        }
        false => "delete from federation_following where actor_id = $1 and follow_id = $2",
    };
    let settled = sqlx::query(query)
        .bind(actor_id)
        .bind(follow_id)
        .execute(exec)
        .await?;
    Ok(settled.rows_affected() > 0)
}

/// Forgets a follow the blog sent; the follow it was, if any.
pub async fn remove_following(
    exec: impl PgExecutor<'_>,
    actor_id: &str,
) -> Result<Option<String>, StoreError> {
    let follow_id = sqlx::query_scalar(
        "delete from federation_following where actor_id = $1 returning follow_id",
    )
    .bind(actor_id)
    .fetch_optional(exec)
    .await?;
    Ok(follow_id)
}

/// Whom the blog follows, newest first.
pub async fn following(exec: impl PgExecutor<'_>, limit: i64) -> Result<Vec<Followed>, StoreError> {
    let followed = sqlx::query_as(
        "select f.actor_id, f.follow_id, f.state, a.name, f.created_at \
         from federation_following f join federation_actors a on a.id = f.actor_id \
         order by f.created_at desc, f.actor_id limit $1",
    )
    .bind(limit)
    .fetch_all(exec)
    .await?;
    Ok(followed)
}

/// A reply the blog's writer sent to a post elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SentNote {
    pub id: i64,
    pub in_reply_to: String,
    pub to_actor: String,
    pub author_id: Option<i64>,
    pub author_name: String,
    pub content_html: String,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

pub async fn insert_note(
    exec: impl PgExecutor<'_>,
    in_reply_to: &str,
    to_actor: &str,
    author: (i64, &str),
    content_html: &str,
) -> Result<SentNote, StoreError> {
    let note = sqlx::query_as(
        "insert into federation_notes (in_reply_to, to_actor, author_id, author_name, content_html) \
         values ($1, $2, $3, $4, $5) returning *",
    )
    .bind(in_reply_to)
    .bind(to_actor)
    .bind(author.0)
    .bind(author.1)
    .bind(content_html)
    .fetch_one(exec)
    .await?;
    Ok(note)
}

pub async fn note(exec: impl PgExecutor<'_>, id: i64) -> Result<Option<SentNote>, StoreError> {
    let note = sqlx::query_as("select * from federation_notes where id = $1")
        .bind(id)
        .fetch_optional(exec)
        .await?;
    Ok(note)
}

/// Sent replies, newest first: every one, or `author_id`'s.
pub async fn notes(
    exec: impl PgExecutor<'_>,
    author_id: Option<i64>,
    limit: i64,
) -> Result<Vec<SentNote>, StoreError> {
    let notes = sqlx::query_as(
        "select * from federation_notes where ($1::bigint is null or author_id = $1) \
         order by id desc limit $2",
    )
    .bind(author_id)
    .bind(limit)
    .fetch_all(exec)
    .await?;
    Ok(notes)
}

/// Marks a sent reply withdrawn; the reply as it was, if it was not already.
pub async fn delete_note(
    exec: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<SentNote>, StoreError> {
    let note = sqlx::query_as(
        "update federation_notes set deleted_at = now() where id = $1 and deleted_at is null returning *",
    )
    .bind(id)
    .fetch_optional(exec)
    .await?;
    Ok(note)
}
