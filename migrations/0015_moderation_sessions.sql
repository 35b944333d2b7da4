-- Sign-ins to the moderation pages (`/moderation`, docs/pages.md). A moderator signs in
-- once with an API token; the browser then holds a random session secret in an HttpOnly
-- cookie, stored here only as its SHA-256 digest. A session is as good as its token: it
-- ends when the token is revoked (the look-up joins `api_tokens`), when it expires, or
-- when the moderator signs out.
create table moderation_sessions (
    id bigint generated always as identity primary key,
    secret_hash bytea not null,
    token_id bigint not null references api_tokens (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    constraint moderation_sessions_secret_hash_key unique (secret_hash),
    constraint moderation_sessions_hash_size check (octet_length(secret_hash) = 32)
);

create index moderation_sessions_token_idx on moderation_sessions (token_id);
create index moderation_sessions_expiry_idx on moderation_sessions (expires_at);

