-- One event outbox, and webhooks delivered from it (docs/webhooks.md).
--
-- `outbox_events` records what happened to public content: written by the triggers
-- below, in the very transaction that made the change, so an event exists exactly when
-- its change committed, whichever way it was made (GraphQL, the comment form, the
-- scheduler, an import) and whether or not a worker is running. Notifications only wake
-- the workers; the rows are the record. A webhook endpoint subscribed to an event's type
-- gets a row in `webhook_deliveries` in the same transaction; workers claim due
-- deliveries with FOR UPDATE SKIP LOCKED and a lease, so each is attempted by one worker
-- at a time, and again after a crash (at least once, with the same webhook-id).

create table outbox_events (
    id bigint generated always as identity primary key,
    type text not null,
    occurred_at timestamptz not null default now(),
    -- What receivers are told: ids, slugs, titles and statuses only (never a body, an
    -- email or an address). The worker adds the URLs, which depend on the public URL.
    data jsonb not null,
    constraint outbox_events_type_valid check (type in (
        'post.published', 'post.updated', 'post.unpublished', 'post.deleted',
        'comment.created', 'comment.approved', 'comment.deleted', 'webhook.test'))
);

create table webhooks (
    id bigint generated always as identity primary key,
    url text not null,
    description text not null default '',
    events text[] not null,
    -- The signing secret, encrypted with a key kept outside the database (see
    -- `gazette_domain::webhooks`): a dump or a replica of the database cannot sign.
    secret_sealed bytea not null,
    -- After a rotation the previous secret signs too, until `previous_secret_until`.
    previous_secret_sealed bytea,
    previous_secret_until timestamptz,
    enabled boolean not null default true,
    -- Why it was disabled: 'admin', 'gone' (the receiver answered 410), 'failing' (five
    -- days of failures).
    disabled_reason text,
    -- Since when every delivery has failed (null while the last one succeeded).
    failing_since timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint webhooks_url_length check (char_length(url) between 1 and 2048),
    constraint webhooks_description_length check (char_length(description) <= 500),
    constraint webhooks_events_given check (cardinality(events) between 1 and 16),
    constraint webhooks_disabled_reason_valid check (
        disabled_reason is null or disabled_reason in ('admin', 'gone', 'failing'))
);

create table webhook_deliveries (
    id bigint generated always as identity primary key,
    event_id bigint not null references outbox_events (id) on delete cascade,
    webhook_id bigint not null references webhooks (id) on delete cascade,
    -- pending: to be attempted at `next_attempt_at`; delivered; failed: given up.
    status text not null default 'pending',
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    -- A worker attempting it holds it until then; after a crash another takes it over.
    leased_until timestamptz,
    last_attempt_at timestamptz,
    last_response_code integer,
    last_error text,
    delivered_at timestamptz,
    created_at timestamptz not null default now(),
    constraint webhook_deliveries_status_valid check (status in ('pending', 'delivered', 'failed')),
    constraint webhook_deliveries_error_length check (char_length(last_error) <= 1000)
);

create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
    where status = 'pending';
create index webhook_deliveries_webhook_idx on webhook_deliveries (webhook_id, id desc);
create index webhook_deliveries_event_idx on webhook_deliveries (event_id);

-- Records an event and its deliveries. The change's own notifications (migration 0002)
-- wake the workers; they also look every second. A transaction that sets
-- `gazette.outbox` to 'off' records none: `gazette bench-data`'s generated site is no
-- news (an import's posts are, and it leaves the setting alone).
create function outbox_record(event_type text, event_data jsonb) returns void
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
end
$$;

-- A post as receivers see it (Relay global id: base64 of "Post:<id>").
create function outbox_post(p posts) returns jsonb
language sql immutable as $$
    select jsonb_build_object(
        'id', encode(convert_to('Post:' || p.id, 'UTF8'), 'base64'),
        'databaseId', p.id,
        'slug', p.slug,
        'title', p.title,
        'status', upper(p.status),
        'publishedAt', p.published_at)
$$;

create function outbox_from_posts() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        if new.status = 'published' then
            perform outbox_record('post.published', jsonb_build_object('post', outbox_post(new)));
        end if;
    elsif tg_op = 'DELETE' then
        -- Drafts and scheduled posts were never public: their removal is no news.
        if old.status = 'published' then
            perform outbox_record('post.deleted', jsonb_build_object('post', outbox_post(old)));
        end if;
    elsif old.status <> 'published' and new.status = 'published' then
        perform outbox_record('post.published', jsonb_build_object('post', outbox_post(new)));
    elsif old.status = 'published' and new.status <> 'published' then
        perform outbox_record('post.unpublished', jsonb_build_object('post', outbox_post(new)));
    elsif new.status = 'published'
        and (old.title, old.body, old.excerpt, old.slug, old.published_at, old.comments_open, old.updated_at)
            is distinct from
            (new.title, new.body, new.excerpt, new.slug, new.published_at, new.comments_open, new.updated_at) then
        perform outbox_record('post.updated', jsonb_build_object('post', outbox_post(new)));
    end if;
    return null;
end
$$;

create trigger posts_outbox
after insert or update or delete on posts
for each row execute function outbox_from_posts();

-- A comment as receivers see it: ids and statuses, never its text, email or address.
create function outbox_comment(c comments) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'comment', jsonb_build_object(
            'id', encode(convert_to('Comment:' || c.id, 'UTF8'), 'base64'),
            'databaseId', c.id,
            'status', upper(c.status),
            'parentId', case when c.parent_id is null then null
                else encode(convert_to('Comment:' || c.parent_id, 'UTF8'), 'base64') end,
            'createdAt', c.created_at),
        'post', (select outbox_post(p) from posts p where p.id = c.post_id))
$$;

create function outbox_from_comments() returns trigger
language plpgsql as $$
begin
    -- Comments on a post that is not public are not news (and would tell its title).
    if not exists (
        select 1 from posts p
        where p.id = (case when tg_op = 'DELETE' then old.post_id else new.post_id end)
          and p.status = 'published'
    ) then
        return null;
    end if;
    if tg_op = 'INSERT' then
        perform outbox_record('comment.created', outbox_comment(new));
    elsif tg_op = 'DELETE' then
        if old.status <> 'deleted' then
            perform outbox_record('comment.deleted', outbox_comment(old));
        end if;
    elsif old.status <> 'published' and old.status <> 'deleted' and new.status = 'published' then
        perform outbox_record('comment.approved', outbox_comment(new));
    elsif old.status <> 'deleted' and new.status = 'deleted' then
        perform outbox_record('comment.deleted', outbox_comment(new));
    end if;
    return null;
end
$$;

-- An import writes historical comments: they are not news (its posts still are).
create trigger comments_outbox
after insert or update of status or delete on comments
for each row when (not gazette_import_batch())
execute function outbox_from_comments();
