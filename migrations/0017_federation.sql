-- ActivityPub federation (docs/federation.md): the remote actors Gazette has met, the
-- blog's followers, blocks, replies from the fediverse, likes and boosts, and the
-- deliveries to remote inboxes.
--
-- Deliveries follow the webhooks' design (migration 0016): rows written in the
-- transaction that decided them, claimed by workers with FOR UPDATE SKIP LOCKED and a
-- lease, retried with back-off, so they go out at least once across worker crashes.

-- Remote actors, as last fetched: whom to deliver to, and the key their requests are
-- signed with.
create table federation_actors (
    id text primary key,
    host text not null,
    inbox text not null,
    shared_inbox text,
    key_id text not null,
    public_key_pem text not null,
    name text not null default '',
    profile_url text,
    fetched_at timestamptz not null default now(),
    constraint federation_actors_id_length check (char_length(id) <= 2048),
    constraint federation_actors_inbox_length check (char_length(inbox) <= 2048),
    constraint federation_actors_shared_inbox_length check (char_length(shared_inbox) <= 2048),
    constraint federation_actors_key_length check (char_length(public_key_pem) <= 16384)
);

create index federation_actors_key_idx on federation_actors (key_id);

-- Who follows the blog. `pending` waits for an admin when followers are approved by hand.
create table federation_followers (
    actor_id text primary key references federation_actors (id) on delete cascade,
    follow_id text not null,
    state text not null default 'accepted',
    created_at timestamptz not null default now(),
    constraint federation_followers_state_valid check (state in ('accepted', 'pending')),
    constraint federation_followers_follow_length check (char_length(follow_id) <= 2048)
);

-- Whom the blog follows (another blog, say): `pending` until their server accepts.
create table federation_following (
    actor_id text primary key references federation_actors (id) on delete cascade,
    follow_id text not null unique,
    state text not null default 'pending',
    created_at timestamptz not null default now(),
    constraint federation_following_state_valid check (state in ('accepted', 'pending'))
);

-- Replies the blog's writers sent to posts elsewhere on the fediverse, served at their
-- object ids (`/ap/notes/{id}`).
create table federation_notes (
    id bigint generated always as identity primary key,
    in_reply_to text not null,
    to_actor text not null,
        -- The writer who sent it (their own to withdraw).
    author_id bigint references authors (id) on delete set null,
    author_name text not null,
    content_html text not null,
    created_at timestamptz not null default now(),
    -- Withdrawn: a Delete was sent, and its id answers with a Tombstone.
    deleted_at timestamptz,
    constraint federation_notes_reply_length check (char_length(in_reply_to) <= 2048)
);

-- Blocked actors (by id) and instances (by host): they get nothing, and what they send is
-- refused.
create table federation_blocks (
    kind text not null,
    value text not null,
    created_at timestamptz not null default now(),
    primary key (kind, value),
    constraint federation_blocks_kind_valid check (kind in ('actor', 'instance')),
    constraint federation_blocks_value_length check (char_length(value) between 1 and 2048)
);

-- Activities received, by id, for the 12 hours a signature is good: the same activity
-- sent again (a retry, or a replay of a captured request) is acted on once.
create table federation_received (
    activity_id text primary key,
    received_at timestamptz not null default now(),
    constraint federation_received_id_length check (char_length(activity_id) <= 2048)
);

create index federation_received_at_idx on federation_received (received_at);

-- A host without its port or final dot, in lower case.
create function federation_hostname(host text) returns text
language sql immutable as $$
    select lower(rtrim(case
        when host like '[%' then split_part(substr(host, 2), ']', 1)
        else regexp_replace(host, ':[0-9]+$', '')
    end, '.'))
$$;

-- Whether an instance block covers `host` (an actor's `host[:port]`): a block of the
-- exact host and port, of the host on any port, or of a domain above it
-- (`spam.example` covers `a.spam.example`), as Mastodon's domain blocks do.
create function federation_instance_blocked(host text) returns boolean
language sql stable as $$
    select exists (
        select 1 from federation_blocks b
        where b.kind = 'instance' and (
            b.value = lower(host)
            or b.value = federation_hostname(host)
            or right(federation_hostname(host), char_length(b.value) + 1) = '.' || b.value))
$$;

-- Comments that arrived as replies from the fediverse: the remote object each one is.
create table federation_comments (
        comment_id bigint primary key references comments (id) on delete cascade,
    object_id text not null,
    actor_id text not null,
    -- One actor's note is one comment; another actor naming the same id takes nothing.
    constraint federation_comments_note_once unique (object_id, actor_id),
    constraint federation_comments_object_length check (char_length(object_id) <= 2048)
);

create index federation_comments_actor_idx on federation_comments (actor_id);

-- Likes and boosts of posts, counted (not turned into comments).
create table federation_reactions (
    activity_id text primary key,
    kind text not null,
    post_id bigint not null references posts (id) on delete cascade,
    actor_id text not null,
    created_at timestamptz not null default now(),
    constraint federation_reactions_kind_valid check (kind in ('like', 'announce')),
    constraint federation_reactions_activity_length check (char_length(activity_id) <= 2048),
    constraint federation_reactions_once unique (kind, post_id, actor_id)
);

create index federation_reactions_post_idx on federation_reactions (post_id, kind);

-- Outbox events federation has still to turn into deliveries. Written by the event
-- outbox while the blog has followers, so an event committed by any process is fanned
-- out exactly once, by whichever worker claims it.
create table federation_queue (
    event_id bigint primary key references outbox_events (id) on delete cascade
);

-- One activity to one inbox (a shared inbox serves all its instance's followers).
create table federation_deliveries (
    id bigint generated always as identity primary key,
    inbox text not null,
    -- The inbox's host, for per-instance limits.
    host text not null,
    activity jsonb not null,
    status text not null default 'pending',
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    leased_until timestamptz,
    last_attempt_at timestamptz,
    last_response_code integer,
    last_error text,
    delivered_at timestamptz,
    created_at timestamptz not null default now(),
    constraint federation_deliveries_status_valid check (status in ('pending', 'delivered', 'failed')),
    constraint federation_deliveries_error_length check (char_length(last_error) <= 1000)
);

create index federation_deliveries_due_idx on federation_deliveries (next_attempt_at)
    where status = 'pending';
create index federation_deliveries_created_idx on federation_deliveries (created_at);

-- The outbox also queues post and comment events for federation while anyone follows.
create or replace function outbox_record(event_type text, event_data jsonb) returns void
language plpgsql as $$
declare
    event_id bigint;
begin
    if current_setting('gazette.outbox', true) = 'off' then
        return;
    end if;
    insert into outbox_events (type, data) values (event_type, event_data)
    returning id into event_id;
    -- A paused endpoint (disabled by an admin) gets its deliveries when it is enabled
    -- again; one disabled because it is gone or kept failing gets none meanwhile.
    insert into webhook_deliveries (event_id, webhook_id)
    select event_id, w.id from webhooks w
        where (w.enabled or w.disabled_reason = 'admin') and event_type = any (w.events);
    if event_type <> 'webhook.test'
        and exists (select 1 from federation_followers where state = 'accepted') then
        insert into federation_queue (event_id) values (event_id);
    end if;
end
$$;
