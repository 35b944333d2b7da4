-- Scheduled publishing: a post may wait, with its publication time, as 'scheduled'; the
-- worker publishes it at that time. Visibility rules test `status = 'published'`, so a
-- scheduled post is as hidden from readers as a draft, and visible to its author and admins.
alter table posts drop constraint posts_status_valid;
alter table posts add constraint posts_status_valid
    check (status in ('draft', 'scheduled', 'published'));

-- The worker asks "what is due, and when is the next one?" by this index.
create index posts_scheduled_idx on posts (published_at) where status = 'scheduled';
