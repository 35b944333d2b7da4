-- The moderation queue's size is read at every metrics scrape (and its members listed by
-- moderators): a partial index keeps that off a scan of every comment.
create index comments_pending_idx on comments (created_at) where status = 'pending';
