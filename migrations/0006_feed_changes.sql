-- What the feeds have not caught up with yet. Every change a feed shows (a post, its tags,
-- its comments, a tag's name) leaves a row here, written by triggers in the changing
-- transaction, so nothing committed is missed even while no worker is listening. A worker
-- run rebuilds only the feeds those rows touch, then deletes the rows it has handled: a run
-- with nothing changed costs a few statements, however large the site.
create table feed_changes (
    id bigint generated always as identity primary key,
    post_id bigint,
    tag_id bigint,
    changed_at timestamptz not null default now()
);

create function feed_changes_from_comments() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        insert into feed_changes (post_id) select distinct post_id from gone;
    else
        insert into feed_changes (post_id) select distinct post_id from fresh;
    end if;
    return null;
end
$$;

create trigger comments_feed_changes_insert
after insert on comments referencing new table as fresh
for each statement execute function feed_changes_from_comments();
create trigger comments_feed_changes_update
after update on comments referencing new table as fresh
for each statement execute function feed_changes_from_comments();
create trigger comments_feed_changes_delete
after delete on comments referencing old table as gone
for each statement execute function feed_changes_from_comments();

create function feed_changes_from_posts() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        insert into feed_changes (post_id) select id from gone;
    else
        insert into feed_changes (post_id) select id from fresh;
    end if;
    return null;
end
$$;

create trigger posts_feed_changes_insert
after insert on posts referencing new table as fresh
for each statement execute function feed_changes_from_posts();
create trigger posts_feed_changes_update
after update on posts referencing new table as fresh
for each statement execute function feed_changes_from_posts();
create trigger posts_feed_changes_delete
after delete on posts referencing old table as gone
for each statement execute function feed_changes_from_posts();

-- A tag that lost a post must drop it from its feed: the tag is named, not only the post.
create function feed_changes_from_post_tags() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        insert into feed_changes (post_id, tag_id) select post_id, tag_id from gone;
    else
        insert into feed_changes (post_id, tag_id) select post_id, tag_id from fresh;
    end if;
    return null;
end
$$;

create trigger post_tags_feed_changes_insert
after insert on post_tags referencing new table as fresh
for each statement execute function feed_changes_from_post_tags();
create trigger post_tags_feed_changes_delete
after delete on post_tags referencing old table as gone
for each statement execute function feed_changes_from_post_tags();

create function feed_changes_from_tags() returns trigger
language plpgsql as $$
begin
    insert into feed_changes (tag_id) select id from fresh;
    return null;
end
$$;

create trigger tags_feed_changes_update
after update on tags referencing new table as fresh
for each statement execute function feed_changes_from_tags();
