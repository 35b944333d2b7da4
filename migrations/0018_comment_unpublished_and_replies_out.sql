-- A published comment a moderator takes down (marks as spam, or holds again) is news:
-- webhook receivers and the fediverse still hold it as published. And a comment that
-- answers a reply from the fediverse (or is one) goes out to that reply's author even
-- while the blog has no followers.

alter table outbox_events drop constraint outbox_events_type_valid;
alter table outbox_events add constraint outbox_events_type_valid check (type in (
    'post.published', 'post.updated', 'post.unpublished', 'post.deleted',
    'comment.created', 'comment.approved', 'comment.unpublished', 'comment.deleted',
    'webhook.test'));

create or replace function outbox_from_comments() returns trigger
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
    elsif old.status = 'published' and new.status in ('pending', 'spam') then
        perform outbox_record('comment.unpublished', outbox_comment(new));
    end if;
    return null;
end
$$;

create or replace function outbox_record(event_type text, event_data jsonb) returns void
language plpgsql as $$
declare
    event_id bigint;
    event_comment bigint := (event_data #>> '{comment,databaseId}')::bigint;
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
        and (exists (select 1 from federation_followers where state = 'accepted')
             -- A reply from the fediverse, or an answer to one: its author is told.
             or exists (
                 select 1 from comments c
                 join federation_comments f on f.comment_id in (c.id, c.parent_id)
                 where c.id = event_comment)) then
        insert into federation_queue (event_id) values (event_id);
    end if;
end
$$;
