-- What the anonymous comment rate limit counts: one row per comment posted without a token,
-- apart from the comment itself, so that deleting a comment (which forgets its author and
-- address) does not give its place in the allowance back. Rows are kept an hour at most.
create table comment_rate_events (
    client_address text not null,
    created_at timestamptz not null default now(),
    constraint comment_rate_events_address_length check (char_length(client_address) <= 100)
);
create index comment_rate_events_client_idx on comment_rate_events (client_address, created_at desc);
create index comment_rate_events_created_idx on comment_rate_events (created_at);

insert into comment_rate_events (client_address, created_at)
select client_address, created_at from comments
where client_address is not null and author_id is null and created_at > now() - interval '1 hour';
