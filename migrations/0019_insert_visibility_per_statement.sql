-- A new reply makes its deleted ancestors show again: now once per statement, not once per
-- row. The row trigger of 0005 ran one update per inserted comment, whose plan was cached
-- while the table was still small; an import writing thousands of replies into a fresh
-- database then scanned the whole table for each of them, and 8,000 replies under one
-- chain ran past the statement timeout. Here the ancestors of all the new rows are
-- gathered first (nothing to do when none of them is deleted, as in every import of
-- comments without deleted ones), and the update is planned for the rows at hand.

drop trigger comments_insert_visibility on comments;

create or replace function comments_insert_visibility() returns trigger
language plpgsql as $$
declare
    ancestors bigint[];
    shown_under bigint[];
begin
    select coalesce(array_agg(distinct a.id), '{}'),
           coalesce(array_agg(distinct a.id) filter (where f.visible_to_public), '{}')
    into ancestors, shown_under
    from fresh f cross join lateral unnest(f.path[1:f.depth]) as a(id)
    where f.depth > 0 and f.status <> 'deleted';
    if cardinality(ancestors) = 0
       or not exists (select 1 from comments d where d.id = any(ancestors) and d.status = 'deleted') then
        return null;
    end if;
    update comments
    set visible_to_public = visible_to_public or id = any(shown_under),
        visible_to_moderators = true
    where id = any(ancestors) and status = 'deleted'
      and (not visible_to_moderators or (id = any(shown_under) and not visible_to_public));
    return null;
end
$$;

-- Planned at each call: a plan kept from when the table was small would scan it whole.
alter function comments_insert_visibility() set plan_cache_mode = force_custom_plan;

create trigger comments_insert_visibility
after insert on comments
referencing new table as fresh
for each statement execute function comments_insert_visibility();
