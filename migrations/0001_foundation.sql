-- Gazette's foundation schema: authors, posts, tags, threaded comments, social channels,
-- generated feeds and channel summaries, API tokens.
--
-- Conventions: identity primary keys; lowercase text enums guarded by CHECK constraints
-- (the GraphQL layer maps them to its enums); every constraint a user can trip is named,
-- so the store can turn it into a user error; an index for every query path.

create table gazette_meta (
    key text primary key,
    value text not null,
    updated_at timestamptz not null default now()
);

create table authors (
    id bigint generated always as identity primary key,
    slug text not null,
    name text not null,
    email text,
    url text,
    bio text not null default '',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint authors_slug_key unique (slug),
    constraint authors_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 200),
    constraint authors_name_length check (char_length(name) between 1 and 200),
    constraint authors_email_length check (char_length(email) <= 320),
    constraint authors_url_length check (char_length(url) <= 2048),
    constraint authors_bio_length check (char_length(bio) <= 10000)
);

-- Tokens are shown once and stored only as their SHA-256 digest.
create table api_tokens (
    id bigint generated always as identity primary key,
    author_id bigint not null references authors (id) on delete cascade,
    name text not null,
    role text not null,
    token_hash bytea not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_tokens_token_hash_key unique (token_hash),
    constraint api_tokens_name_length check (char_length(name) between 1 and 200),
    constraint api_tokens_role_valid check (role in ('admin', 'author')),
    constraint api_tokens_hash_size check (octet_length(token_hash) = 32)
);
create index api_tokens_author_idx on api_tokens (author_id);

create table posts (
    id bigint generated always as identity primary key,
    author_id bigint not null references authors (id) on delete restrict,
    slug text not null,
    title text not null,
    body text not null default '',
    body_html text not null default '',
    excerpt text not null default '',
    -- false: the excerpt follows the body; true: the author wrote it.
    custom_excerpt boolean not null default false,
    status text not null default 'draft',
    comments_open boolean not null default true,
    published_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    search tsvector generated always as (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')
    ) stored,
    constraint posts_slug_key unique (slug),
    constraint posts_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 200),
    constraint posts_title_length check (char_length(title) between 1 and 200),
    constraint posts_excerpt_length check (char_length(excerpt) <= 1000),
    constraint posts_body_size check (octet_length(body) <= 262144),
    constraint posts_status_valid check (status in ('draft', 'published')),
    constraint posts_published_has_date check (status = 'draft' or published_at is not null)
);
-- Keyset pagination paths. The publication order is by publication date, or creation date
-- for drafts that were never published (one expression, so one index serves both).
create index posts_publication_order_idx on posts ((coalesce(published_at, created_at)) desc, id desc)
    where status = 'published';
create index posts_draft_order_idx on posts (author_id, (coalesce(published_at, created_at)) desc, id desc)
    where status = 'draft';
create index posts_author_order_idx on posts (author_id, (coalesce(published_at, created_at)) desc, id desc)
    where status = 'published';
create index posts_updated_idx on posts (status, updated_at desc, id desc);
create index posts_title_idx on posts (status, title, id);
create index posts_search_idx on posts using gin (search);

create table tags (
    id bigint generated always as identity primary key,
    slug text not null,
    name text not null,
    created_at timestamptz not null default now(),
    constraint tags_slug_key unique (slug),
    constraint tags_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 100),
    constraint tags_name_length check (char_length(name) between 1 and 100)
);

create table post_tags (
    post_id bigint not null references posts (id) on delete cascade,
    tag_id bigint not null references tags (id) on delete cascade,
    position smallint not null default 0,
    primary key (post_id, tag_id)
);
create index post_tags_tag_idx on post_tags (tag_id, post_id);

-- Threaded comments. `path` is the materialised path: the ids from the top-level comment
-- down to this one. Ids grow with time, so ordering a post's comments by `path` yields the
-- whole thread depth-first, oldest first, from one index range scan.
create table comments (
    id bigint generated always as identity primary key,
    post_id bigint not null references posts (id) on delete cascade,
    parent_id bigint,
    path bigint[] not null,
    depth integer not null,
    author_name text not null,
    author_email text,
    author_url text,
    author_id bigint references authors (id) on delete set null,
    body text not null,
    body_html text not null,
    status text not null default 'published',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint comments_id_post_key unique (id, post_id),
    -- A reply belongs to its parent's post.
    constraint comments_parent_same_post foreign key (parent_id, post_id)
        references comments (id, post_id) on delete cascade,
    constraint comments_author_name_length check (char_length(author_name) between 1 and 80),
    constraint comments_author_email_length check (char_length(author_email) <= 320),
    constraint comments_author_url_length check (char_length(author_url) <= 2048),
    -- Deleted comments keep their row (a tombstone that holds replies in place) with an empty body.
    constraint comments_body_length check (char_length(body) <= 10000),
    constraint comments_status_valid check (status in ('published', 'pending', 'spam', 'deleted')),
    constraint comments_path_consistent check (
        depth = cardinality(path) - 1 and path[cardinality(path)] = id and (parent_id is null) = (depth = 0)
    )
);
create unique index comments_thread_order_idx on comments (post_id, path);
create index comments_replies_idx on comments (parent_id, id) where parent_id is not null;
create index comments_top_level_idx on comments (post_id, id) where parent_id is null;
create index comments_recent_published_idx on comments (created_at desc, id desc) where status = 'published';

create function comments_set_path() returns trigger
language plpgsql as $$
declare
    parent_path bigint[];
begin
    if new.parent_id is null then
        new.path := array[new.id];
    else
        select c.path into parent_path
        from comments c
        where c.id = new.parent_id and c.post_id = new.post_id;
        if parent_path is null then
            raise foreign_key_violation using
                constraint = 'comments_parent_same_post',
                message = 'the parent comment does not exist on this post';
        end if;
        new.path := parent_path || new.id;
    end if;
    new.depth := cardinality(new.path) - 1;
    return new;
end
$$;

create trigger comments_set_path
before insert on comments
for each row execute function comments_set_path();

create table social_channels (
    id bigint generated always as identity primary key,
    slug text not null,
    kind text not null,
    name text not null,
    url text not null,
    enabled boolean not null default true,
    template text,
    position integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint social_channels_slug_key unique (slug),
    constraint social_channels_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 100),
    constraint social_channels_kind_valid check (kind in (
        'facebook', 'twitter', 'youtube', 'flickr', 'blog', 'rss', 'podcast', 'mastodon', 'linkedin', 'other'
    )),
    constraint social_channels_name_length check (char_length(name) between 1 and 100),
    constraint social_channels_url_length check (char_length(url) between 1 and 2048),
    constraint social_channels_template_length check (char_length(template) <= 2000)
);
create index social_channels_position_idx on social_channels (position, id);

-- Feeds as the worker generated them. A row changes only when its content changes, so
-- `generated_at` is the feed's Last-Modified and `content_hash` its strong ETag.
create table generated_feeds (
    key text primary key,
    content_type text not null,
    body text not null,
    content_hash text not null,
    item_count integer not null,
    generated_at timestamptz not null default now(),
    constraint generated_feeds_item_count check (item_count >= 0)
);

-- Ready-to-post channel texts (per post) and digests (post_id null), stored like feeds.
create table channel_summaries (
    key text primary key,
    channel_id bigint not null references social_channels (id) on delete cascade,
    post_id bigint references posts (id) on delete cascade,
    body text not null,
    content_hash text not null,
    generated_at timestamptz not null default now()
);
create index channel_summaries_channel_idx on channel_summaries (channel_id, post_id);
create index channel_summaries_post_idx on channel_summaries (post_id) where post_id is not null;
