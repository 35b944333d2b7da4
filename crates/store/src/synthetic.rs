//! A synthetic site for the benchmark (`gazette bench-data`): the same rows on every run,
//! built by PostgreSQL itself from `generate_series`, so 200,000 comments take seconds
//! rather than 200,000 round trips.
//!
//! The shape (see docs/benchmarks.md): published posts with three tags each, by a handful
//! of authors; on every post a few top-level comments, some with a reply; and one post,
//! [`BIG_THREAD_SLUG`], holding a thread of `big_thread_chains` chains each
//! `big_thread_depth` levels deep. The big thread sits in the middle of the archive, so the
//! front page shows ordinary posts.
//!
//! Some of what a live site holds back is there too, so every reader's visibility rule has
//! rows to refuse: one post in `hold_back_every` is a draft, and the last reply on every
//! ordinary post (and on one chain in five of the big thread) is held, spam or deleted.
//! Only leaves are held back, so no published comment hangs under a hidden one.

use sqlx::PgPool;

use crate::error::StoreError;

/// The slug of the post holding the deep thread.
pub const BIG_THREAD_SLUG: &str = "big-thread";

/// How big a site to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSite {
    /// Posts, the big thread's included (drafts too, see `hold_back_every`).
    pub posts: u32,
    pub authors: u32,
    pub tags: u32,
    /// Comments on each ordinary post: half top-level (rounded up), the rest replies to them.
    pub comments_per_post: u32,
    /// Top-level comments of the big thread, each the head of a chain of replies.
    pub big_thread_chains: u32,
    /// Levels of each chain (1: top-level comments only).
    pub big_thread_depth: u32,
    /// One post in this many (`post-7`, `post-57`, … for 50) is a draft, and the last
    /// replies are held back as above; 0 holds nothing back (1 makes every post but the big
    /// thread a draft).
    pub hold_back_every: u32,
}

impl Default for SyntheticSite {
    /// The benchmark's data set: 10,000 posts, about 200,000 comments, and a
    /// 10,000-comment thread 50 levels deep.
    fn default() -> Self {
        Self {
            posts: 10_000,
            authors: 20,
            tags: 200,
            comments_per_post: 19,
            big_thread_chains: 200,
            big_thread_depth: 50,
            hold_back_every: 50,
        }
    }
}

/// What [`generate`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticCounts {
    pub posts: i64,
    pub comments: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    #[error("the database already holds {0} posts: synthetic data goes into an empty one")]
    NotEmpty(i64),
    #[error("a synthetic site needs at least 2 posts, 1 author, 3 tags and 1 level of thread")]
    TooSmall,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SyntheticError {
    fn from(error: sqlx::Error) -> Self {
        SyntheticError::Store(error.into())
    }
}

/// Fills an empty (migrated) database with `site`, in one transaction.
pub async fn generate(
    pool: &PgPool,
    site: &SyntheticSite,
) -> Result<SyntheticCounts, SyntheticError> {
    if site.posts < 2
        || site.authors < 1
        || site.tags < 3
        || site.big_thread_depth < 1
        || site.big_thread_chains < 1
    {
        return Err(SyntheticError::TooSmall);
    }
    let mut tx = pool.begin().await?;
    // Bulk statements of a large site run longer than a request's statement timeout. A
    // generated site is no news: its rows make no events for webhooks (migration 0016),
    // nor a notification each (migration 0014): one `post_changed`, sent at commit, wakes
    // a worker and empties caches, as after an import's batch.
    sqlx::query(
        "select set_config('statement_timeout', '0', true), \
                set_config('gazette.outbox', 'off', true), \
                set_config('gazette.import_batch', 'on', true), \
                gazette_notify('post_changed', null, null)",
    )
    .execute(&mut *tx)
    .await?;
    let existing: i64 = sqlx::query_scalar("select count(*) from posts")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Err(SyntheticError::NotEmpty(existing));
    }
    sqlx::query(
        "insert into authors (slug, name, bio) \
         select 'author-' || i, 'Author ' || i, 'Writes about digital public services.' \
         from generate_series(1, $1::int) i",
    )
    .bind(i64::from(site.authors))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into tags (slug, name) select 'topic-' || i, 'Topic ' || i from generate_series(1, $1::int) i",
    )
    .bind(i64::from(site.tags))
    .execute(&mut *tx)
    .await?;
    // Post i was published i hours before 2026-01-01; the big thread takes the middle slot.
    sqlx::query(
        r#"
        with a as (select array_agg(id order by id) as ids from authors where slug like 'author-%')
        insert into posts (author_id, slug, title, body, body_html, excerpt, status, published_at,
                           created_at, updated_at)
        select a.ids[1 + i % cardinality(a.ids)],
               case when i = $2 then 'big-thread' else 'post-' || i end,
               'Post ' || i || ': enterprise 2.0 in government, part ' || (i % 7 + 1),
               repeat('Agencies publish where their public already reads. ', 12) || E'\n\nPost ' || i || '.',
               '<p>' || repeat('Agencies publish where their public already reads. ', 12)
                   || '</p><p>Post ' || i || '.</p>',
               'Agencies publish where their public already reads. Post ' || i || '.',
               case when i <> $2 and i % nullif($3, 0) = 7 % nullif($3, 0) then 'draft' else 'published' end,
               case when i <> $2 and i % nullif($3, 0) = 7 % nullif($3, 0) then null
                    else timestamptz '2026-01-01 00:00:00+00' - make_interval(hours => i) end,
               timestamptz '2026-01-01 00:00:00+00' - make_interval(hours => i),
               timestamptz '2026-01-01 00:00:00+00' - make_interval(hours => i)
        from generate_series(1, $1::int) i, a
        order by i desc
        "#,
    )
    .bind(i64::from(site.posts))
    .bind(i64::from(site.posts / 2))
    .bind(i64::from(site.hold_back_every))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        r#"
        with t as (select array_agg(id order by id) as ids from tags where slug like 'topic-%')
        insert into post_tags (post_id, tag_id, position)
        select p.id, t.ids[1 + (p.id + k * (cardinality(t.ids) / 3)) % cardinality(t.ids)], k
        from posts p, t, generate_series(0, 2) k
        "#,
    )
    .execute(&mut *tx)
    .await?;
    let top_level = site.comments_per_post.div_ceil(2);
    let replies = site.comments_per_post - top_level;
    sqlx::query(
        r#"
        insert into comments (post_id, author_name, body, body_html, created_at, updated_at)
        select p.id, 'Reader ' || (p.id * 31 + k) % 997,
               'A comment on this post, number ' || k || '. Thanks for publishing it openly.',
               '<p>A comment on this post, number ' || k || '. Thanks for publishing it openly.</p>',
               coalesce(p.published_at, p.created_at) + make_interval(mins => k),
               coalesce(p.published_at, p.created_at) + make_interval(mins => k)
        from posts p, generate_series(1, $1::int) k
        where p.slug <> 'big-thread'
        order by p.id, k
        "#,
    )
    .bind(i64::from(top_level))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        r#"
        insert into comments (post_id, parent_id, author_name, body, body_html, status,
                              created_at, updated_at)
        select c.post_id, c.id, 'Reader ' || (c.id * 17) % 997,
               case when c.held = 'deleted' then ''
                    else 'A reply to comment ' || c.id || ': agreed, and the feed helps.' end,
               case when c.held = 'deleted' then ''
                    else '<p>A reply to comment ' || c.id || ': agreed, and the feed helps.</p>' end,
               coalesce(c.held, 'published'),
               c.created_at + interval '1 hour', c.created_at + interval '1 hour'
        from (
            select c.*,
                   case when $2 and n = $1 then (array['pending', 'spam', 'deleted'])[1 + c.post_id % 3] end
                       as held
            from (
                select c.*, row_number() over (partition by c.post_id order by c.id) as n
                from comments c
                where c.parent_id is null
            ) c
        ) c
        where c.n <= $1
        order by c.post_id, c.id
        "#,
    )
    .bind(i64::from(replies))
    .bind(site.hold_back_every > 0)
    .execute(&mut *tx)
    .await?;
    let big_thread: i64 = sqlx::query_scalar("select id from posts where slug = $1")
        .bind(BIG_THREAD_SLUG)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        r#"
        insert into comments (post_id, author_name, body, body_html, created_at, updated_at)
        select $1, 'Reader ' || k % 997, 'Chain ' || k || ', level 0.', '<p>Chain ' || k || ', level 0.</p>',
               p.published_at + make_interval(secs => k), p.published_at + make_interval(secs => k)
        from posts p, generate_series(1, $2::int) k
        where p.id = $1
        order by k
        "#,
    )
    .bind(big_thread)
    .bind(i64::from(site.big_thread_chains))
    .execute(&mut *tx)
    .await?;
    for level in 1..i32::try_from(site.big_thread_depth).unwrap_or(i32::MAX) {
        sqlx::query(
            r#"
            insert into comments (post_id, parent_id, author_name, body, body_html, status,
                                  created_at, updated_at)
            select post_id, id, 'Reader ' || (id * 7) % 997,
                   case when held = 'deleted' then '' else 'A reply at level ' || $2 || ' of the long discussion.' end,
                   case when held = 'deleted' then ''
                        else '<p>A reply at level ' || $2 || ' of the <em>long</em> discussion.</p>' end,
                   coalesce(held, 'published'),
                   created_at + interval '1 minute', created_at + interval '1 minute'
            from (
                select c.*,
                       case when $3 and $2 = $4 - 1 and c.id % 5 = 0
                            then (array['pending', 'spam', 'deleted'])[1 + c.id / 5 % 3] end as held
                from comments c
                where c.post_id = $1 and c.depth = $2 - 1
            ) c
            order by id
            "#,
        )
        .bind(big_thread)
        .bind(level)
        .bind(site.hold_back_every > 0)
        .bind(i64::from(site.big_thread_depth))
        .execute(&mut *tx)
        .await?;
    }
    let counts = SyntheticCounts {
        posts: sqlx::query_scalar("select count(*) from posts")
            .fetch_one(&mut *tx)
            .await?,
        comments: sqlx::query_scalar("select count(*) from comments")
            .fetch_one(&mut *tx)
            .await?,
    };
    tx.commit().await?;
    // Fresh statistics, so the first plans are the ones a long-running site would get. Only
    // the tables written here: a bare `analyze` also visits the shared catalogs, which only
    // a superuser may analyse, and PostgreSQL warns about each to a user who cannot act.
    sqlx::query("analyze authors, tags, posts, post_tags, comments")
        .execute(pool)
        .await?;
    Ok(counts)
}
