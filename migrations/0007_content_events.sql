-- Every change a reader can see is announced, so caches in every API process (anonymous
-- query responses, feeds) can drop what it made stale: authors and tags (names shown on
-- every post), and the channel texts the worker writes. Posts, comments, post tags,
-- channels and feeds announced themselves already (migrations 0002 and 0003).

create function gazette_notify_content() returns trigger
language plpgsql as $$
begin
    perform pg_notify('gazette_events', json_build_object('kind', tg_argv[0])::text);
    return null;
end
$$;

create trigger authors_notify
after insert or update or delete on authors
for each statement execute function gazette_notify_content('content_changed');
create trigger tags_notify
after insert or update or delete on tags
for each statement execute function gazette_notify_content('content_changed');
-- Written by the worker itself: announced under their own kind, which the worker ignores.
create trigger channel_summaries_notify
after insert or update or delete on channel_summaries
for each statement execute function gazette_notify_content('summaries_changed');
create trigger channel_digests_notify
after insert or update or delete on channel_digests
for each statement execute function gazette_notify_content('summaries_changed');

-- An author's new name shows in the feeds of their posts.
create function feed_changes_from_authors() returns trigger
language plpgsql as $$
begin
    insert into feed_changes (post_id)
    select p.id from posts p join fresh a on a.id = p.author_id join gone o on o.id = a.id
    where a.name is distinct from o.name;
    return null;
end
$$;

create trigger authors_feed_changes_update
after update on authors referencing new table as fresh old table as gone
for each statement execute function feed_changes_from_authors();
