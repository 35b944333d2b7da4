-- Public commenting: who posted from where (rate limits), retries (idempotency), fast
-- tombstone checks, and change events for other processes (LISTEN/NOTIFY).

alter table comments
    add column client_address text,
    add column client_mutation_id text,
    add constraint comments_client_address_length check (char_length(client_address) <= 100),
    add constraint comments_client_mutation_id_length check (char_length(client_mutation_id) <= 200);

-- A retried addComment finds the first one.
create index comments_client_mutation_idx on comments (post_id, client_mutation_id, created_at desc)
    where client_mutation_id is not null;
-- Rate limits count a client's recent comments.
create index comments_client_recent_idx on comments (client_address, created_at desc)
    where client_address is not null;
-- "Has this comment a visible descendant?": every descendant's path contains its id.
create index comments_path_gin_idx on comments using gin (path);
-- Published counts per post and per parent.
create index comments_published_post_idx on comments (post_id) where status = 'published';
create index comments_published_parent_idx on comments (parent_id) where status = 'published';

-- Events for other processes, sent when the transaction commits. One channel; the payload
-- is JSON with a `kind` and the ids concerned.
create function gazette_notify(kind text, post_id bigint, comment_id bigint) returns void
language sql as $$
    select pg_notify(
        'gazette_events',
        json_build_object('kind', kind, 'post_id', post_id, 'comment_id', comment_id)::text
    )
$$;

create function comments_notify() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        perform gazette_notify('comment_changed', old.post_id, old.id);
        return null;
    end if;
    if new.status = 'published' and (tg_op = 'INSERT' or old.status <> 'published') then
        perform gazette_notify('comment_published', new.post_id, new.id);
    else
        perform gazette_notify('comment_changed', new.post_id, new.id);
    end if;
    return null;
end
$$;

create trigger comments_notify
after insert or update or delete on comments
for each row execute function comments_notify();

create function posts_notify() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        perform gazette_notify('post_changed', old.id, null);
        return null;
    end if;
    if new.status = 'published' and (tg_op = 'INSERT' or old.status <> 'published') then
        perform gazette_notify('post_published', new.id, null);
    else
        perform gazette_notify('post_changed', new.id, null);
    end if;
    return null;
end
$$;

create trigger posts_notify
after insert or update or delete on posts
for each row execute function posts_notify();

create function post_tags_notify() returns trigger
language plpgsql as $$
begin
    perform gazette_notify('post_changed', coalesce(new.post_id, old.post_id), null);
    return null;
end
$$;

create trigger post_tags_notify
after insert or delete on post_tags
for each row execute function post_tags_notify();
