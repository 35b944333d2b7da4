-- An import writes thousands of historical comments and tag links in one transaction. A
-- notification per row (migration 0002) told live subscribers of comments that are years
-- old and cost most of an import's time. Within a transaction that sets
-- `gazette.import_batch` to 'on', comments and tag links send no row notifications; the
-- import sends one `post_changed` per batch instead, which wakes the worker and empties
-- caches. Posts still announce each publication (`post_published`): a published post is
-- news to subscribers whatever wrote it. The durable record of changes stays
-- `feed_changes` (migration 0006), written by statement triggers as before.
create function gazette_import_batch() returns boolean
language sql stable as $$
    select coalesce(current_setting('gazette.import_batch', true), '') = 'on'
$$;

create or replace function comments_notify() returns trigger
language plpgsql as $$
begin
    if gazette_import_batch() then
        return null;
    end if;
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

create or replace function post_tags_notify() returns trigger
language plpgsql as $$
begin
    if gazette_import_batch() then
        return null;
    end if;
    perform gazette_notify('post_changed', coalesce(new.post_id, old.post_id), null);
    return null;
end
$$;
