-- A new comment's place comes from its parent, looked up by the row trigger of 0005. Its
-- plan was cached once per connection: made while an import's database was still empty,
-- it walked the post's whole thread for each parent, and a bushy thread of 20,000
-- replies imported into a fresh database ran past the statement timeout (the same file
-- into a database with content: 2.5 s). Planned at each call, the look-up finds the
-- parent by its key however the table has grown.
alter function comments_set_path() set plan_cache_mode = force_custom_plan;
