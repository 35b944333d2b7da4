-- What the channel texts (summaries and digests) have not caught up with yet, recorded
-- like `feed_changes` (migration 0006) in the changing transaction: every change a feed
-- shows (posts, their tags and comments, tag and author names) and every change to a
-- channel. A worker run with no rows here and the same settings and digest period renders
-- nothing. Which texts a change touches is decided by `input_hash`: a text is rendered
-- again only when what it is made of differs from what it was made of.
create table channel_text_changes (
    id bigint generated always as identity primary key,
    changed_at timestamptz not null default now()
);

-- Statement triggers fire for statements that touch no row too (publishing due scheduled
-- posts when none is due, on every worker run): only rows changed count.
create function channel_text_changes_record() returns trigger
language plpgsql as $$
begin
    if exists (select 1 from changed) then
        insert into channel_text_changes default values;
    end if;
    return null;
end
$$;

create trigger feed_changes_channel_texts
after insert on feed_changes referencing new table as changed
for each statement execute function channel_text_changes_record();
create trigger social_channels_insert_channel_texts
after insert on social_channels referencing new table as changed
for each statement execute function channel_text_changes_record();
create trigger social_channels_update_channel_texts
after update on social_channels referencing new table as changed
for each statement execute function channel_text_changes_record();
create trigger social_channels_delete_channel_texts
after delete on social_channels referencing old table as changed
for each statement execute function channel_text_changes_record();

-- A hash of everything a text was made of (the channel's kind and template, the post or
-- the period's activity, the settings and the rendering version); null for texts written
-- before this migration, which are rendered again once.
alter table channel_summaries add column input_hash text;
alter table channel_digests add column input_hash text;
