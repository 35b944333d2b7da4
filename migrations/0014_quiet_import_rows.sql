-- An import writes thousands of historical comments and tag links in one transaction. A
-- notification per row (migration 0002) told live subscribers of comments that are years
-- old and cost most of an import's time. Within a transaction that sets
-- `gazette.import_batch` to 'on', comments and tag links send no row notifications (the
-- triggers do not even fire); the import sends one `post_changed` per batch instead, which
-- wakes the worker and empties caches. Posts still announce each publication
-- (`post_published`): a published post is news to subscribers whatever wrote it. The
-- durable record of changes stays `feed_changes` (migration 0006), written by statement
-- triggers as before.
create function gazette_import_batch() returns boolean
language sql stable as $$
    select coalesce(current_setting('gazette.import_batch', true), '') = 'on'
$$;

drop trigger comments_notify_write on comments;
create trigger comments_notify_write
after insert or delete on comments
for each row when (not gazette_import_batch())
execute function comments_notify();

drop trigger post_tags_notify on post_tags;
create trigger post_tags_notify
after insert or delete on post_tags
for each row when (not gazette_import_batch())
execute function post_tags_notify();
