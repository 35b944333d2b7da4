-- What an import brought in: each post and comment of an export, by the export's own id,
-- so importing the same file again changes nothing and a newer export adds only what is new.
create table imported (
    source text not null,
    external_id text not null,
    post_id bigint references posts (id) on delete cascade,
    comment_id bigint references comments (id) on delete cascade,
    primary key (source, external_id),
    constraint imported_one_target check ((post_id is null) <> (comment_id is null))
);
create index imported_post_idx on imported (post_id) where post_id is not null;
create index imported_comment_idx on imported (comment_id) where comment_id is not null;
