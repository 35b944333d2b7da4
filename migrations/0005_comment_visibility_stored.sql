-- Comment visibility, decided when a comment is written or moderated and stored, instead of
-- computed for every row of every read: a thread page used to look up every row's ancestors
-- (is one of them held?) and every tombstone's descendants (does one still show?), 8-10 ms
-- per page on a 10,000-comment thread. Reads outnumber moderation by orders of magnitude.
--
-- held              = status in ('pending', 'spam')
-- under_held        = a strict ancestor is held
-- visible_to_public = published and not under_held,
--                     or deleted (a tombstone) with a published descendant not under_held
-- visible_to_moderators (admins, the post's author)
--                   = published, pending or spam,
--                     or deleted with a descendant that is not deleted
--
-- Whether the *post* is visible is still read from `posts` (one row per post, joined anyway).
-- Triggers keep the columns right whoever writes (the API, imports, tests, psql).

alter table comments
    add column under_held boolean not null default false,
    add column visible_to_public boolean not null default false,
    add column visible_to_moderators boolean not null default false;

update comments d set under_held = true
where d.depth > 0 and exists (
    select 1 from comments a where a.id = any(d.path[1:d.depth]) and a.status in ('pending', 'spam')
);
update comments
set visible_to_public = status = 'published' and not under_held,
    visible_to_moderators = status <> 'deleted';
update comments t
set visible_to_public = exists (
        select 1 from comments d
        where d.post_id = t.post_id and d.path @> array[t.id] and d.id <> t.id
          and d.status = 'published' and not d.under_held),
    visible_to_moderators = exists (
        select 1 from comments d
        where d.post_id = t.post_id and d.path @> array[t.id] and d.id <> t.id and d.status <> 'deleted')
where t.status = 'deleted';

-- The new comment's place under its parent decides whether it is under a held one.
create or replace function comments_set_path() returns trigger
language plpgsql as $$
declare
    parent comments%rowtype;
begin
    if new.parent_id is null then
        new.path := array[new.id];
        new.under_held := false;
    else
        select * into parent
        from comments c
        where c.id = new.parent_id and c.post_id = new.post_id;
        if parent.id is null then
            raise foreign_key_violation using
                constraint = 'comments_parent_same_post',
                message = 'the parent comment does not exist on this post';
        end if;
        new.path := parent.path || new.id;
        new.under_held := parent.under_held or parent.status in ('pending', 'spam');
    end if;
    new.depth := cardinality(new.path) - 1;
    new.visible_to_public := new.status = 'published' and not new.under_held;
    new.visible_to_moderators := new.status <> 'deleted';
    return new;
end
$$;

-- Recomputes the deleted comments among `ids` (tombstones show while a descendant does).
create function comments_refresh_tombstones(ids bigint[]) returns void
language sql as $$
    update comments t
    set visible_to_public = v.public, visible_to_moderators = v.moderators
    from (
        select t.id,
               exists (select 1 from comments d
                       where d.post_id = t.post_id and d.path @> array[t.id] and d.id <> t.id
                         and d.status = 'published' and not d.under_held) as public,
               exists (select 1 from comments d
                       where d.post_id = t.post_id and d.path @> array[t.id] and d.id <> t.id
                         and d.status <> 'deleted') as moderators
        from comments t
        where t.id = any(ids) and t.status = 'deleted'
    ) v
    where t.id = v.id
      and (t.visible_to_public, t.visible_to_moderators) is distinct from (v.public, v.moderators)
$$;

-- A new reply makes its deleted ancestors show again.
create function comments_insert_visibility() returns trigger
language plpgsql as $$
begin
    if new.depth > 0 and new.status <> 'deleted' then
        update comments
        set visible_to_public = visible_to_public or new.visible_to_public,
            visible_to_moderators = true
        where id = any(new.path[1:new.depth]) and status = 'deleted'
          and (not visible_to_moderators or (new.visible_to_public and not visible_to_public));
    end if;
    return null;
end
$$;

create trigger comments_insert_visibility
after insert on comments
for each row execute function comments_insert_visibility();

-- A status change (moderation, deletion) recomputes the comment's subtree and its ancestors.
create function comments_status_visibility() returns trigger
language plpgsql as $$
declare
    last integer := cardinality(new.path);
    -- Every path with this prefix sorts between these two: one range of the thread index.
    subtree_end bigint[] := new.path[1:last - 1] || (new.path[last] + 1);
begin
    if (old.status in ('pending', 'spam')) is distinct from (new.status in ('pending', 'spam')) then
        update comments d
        set under_held = h.under_held
        from (
            select d.id, exists (
                       select 1 from comments a
                       where a.id = any(d.path[1:d.depth]) and a.status in ('pending', 'spam')
                   ) as under_held
            from comments d
            where d.post_id = new.post_id and d.path > new.path and d.path < subtree_end
        ) h
        where d.id = h.id and d.under_held <> h.under_held;
    end if;
    update comments d
    set visible_to_public = d.status = 'published' and not d.under_held,
        visible_to_moderators = true
    where d.post_id = new.post_id and d.path >= new.path and d.path < subtree_end
      and d.status <> 'deleted'
      and (d.visible_to_public, d.visible_to_moderators)
          is distinct from (d.status = 'published' and not d.under_held, true);
    perform comments_refresh_tombstones(array(
        select d.id from comments d
        where d.post_id = new.post_id and d.path >= new.path and d.path < subtree_end
          and d.status = 'deleted'
        union all
        select unnest(new.path[1:new.depth])
    ));
    return null;
end
$$;

create trigger comments_status_visibility
after update of status on comments
for each row when (old.status is distinct from new.status)
execute function comments_status_visibility();

-- A comment removed for good (its post deleted, or a purge) may leave a tombstone with
-- nothing under it.
create function comments_delete_visibility() returns trigger
language plpgsql as $$
begin
    perform comments_refresh_tombstones(array(
        select distinct unnest(g.path[1:g.depth]) from gone g where g.depth > 0
    ));
    return null;
end
$$;

create trigger comments_delete_visibility
after delete on comments
referencing old table as gone
for each statement execute function comments_delete_visibility();

-- Only changes readers see are events: not the visibility columns the triggers above keep.
drop trigger comments_notify on comments;
create trigger comments_notify_write
after insert or delete on comments
for each row execute function comments_notify();
create trigger comments_notify_update
after update of post_id, parent_id, author_name, author_email, author_url, author_id, body, body_html,
    status, created_at
on comments
for each row execute function comments_notify();

-- The reads the stored visibility serves.
create index comments_public_post_idx on comments (post_id)
    where status = 'published' and visible_to_public;
create index comments_public_parent_idx on comments (parent_id)
    where parent_id is not null and visible_to_public;
drop index comments_published_post_idx;
drop index comments_published_parent_idx;
