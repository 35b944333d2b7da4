//! Comment visibility is stored (migration 0005) rather than computed on every read. Whatever
//! sequence of replies, moderation, deletions and purges leads there, the stored columns
//! must equal the rule computed from scratch over the whole thread.

use gazette_store::comments::{self, CommentStatus, NewComment};
use sqlx::PgPool;

use crate::support::{TestApp, insert_published_post};

/// Comments whose stored visibility differs from the rule, computed the slow way.
const MISMATCHES: &str = r#"
    with rule as (
        select c.id, c.under_held, c.visible_to_public, c.visible_to_moderators,
               exists (select 1 from comments a
                       where a.id = any(c.path[1:c.depth]) and a.status in ('pending', 'spam')) as held_above,
               c.status
        from comments c where c.post_id = $1
    )
    select r.id from rule r
    where r.under_held <> r.held_above
       or r.visible_to_public <> (
            (r.status = 'published' and not r.held_above)
            or (r.status = 'deleted' and exists (
                select 1 from rule d join comments dc on dc.id = d.id
                where dc.path @> array[r.id] and d.id <> r.id
                  and d.status = 'published' and not d.held_above)))
       or r.visible_to_moderators <> (
            r.status <> 'deleted'
            or exists (select 1 from comments d
                       where d.post_id = $1 and d.path @> array[r.id] and d.id <> r.id
                         and d.status <> 'deleted'))
    order by r.id
"#;

/// A small deterministic generator, so a failure replays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

async fn reply(pool: &PgPool, post_id: i64, parent_id: Option<i64>) -> i64 {
    comments::insert(
        pool,
        &NewComment {
            post_id,
            parent_id,
            author_name: "Reader",
            author_email: None,
            author_url: None,
            author_id: None,
            body: "text",
            body_html: "<p>text</p>",
            status: CommentStatus::Published,
            created_at: None,
            client_address: None,
            client_mutation_id: None,
        },
    )
    .await
    .expect("insert a comment")
    .id
}

async fn live_ids(pool: &PgPool, post_id: i64) -> Vec<i64> {
    sqlx::query_scalar("select id from comments where post_id = $1 order by id")
        .bind(post_id)
        .fetch_all(pool)
        .await
        .expect("ids")
}

#[tokio::test]
async fn stored_visibility_follows_every_write() {
    let app = TestApp::spawn_api_only().await;
    let pool = &app.pool;
    let post_id = insert_published_post(pool, ("ann", "Ann"), ("moderated", "Moderated")).await;

    let mut random = Lcg(7);
    let mut ids = Vec::new();
    for _ in 0..40 {
        let parent = (!ids.is_empty() && random.below(4) > 0).then(|| ids[random.below(ids.len())]);
        ids.push(reply(pool, post_id, parent).await);
    }
    let statuses = [
        CommentStatus::Pending,
        CommentStatus::Spam,
        CommentStatus::Published,
        CommentStatus::Published,
    ];
    let mut kinds_seen = [0usize; 5];
    for step in 0..150 {
        let ids = live_ids(pool, post_id).await;
        let target = ids[random.below(ids.len())];
        let kind = random.below(10);
        match kind {
            0..=4 => {
                comments::set_status(pool, target, statuses[random.below(statuses.len())])
                    .await
                    .expect("moderate");
            }
            5 | 6 => {
                comments::tombstone(pool, target).await.expect("delete");
            }
            7 | 8 => {
                reply(pool, post_id, Some(target)).await;
            }
            _ => {
                // A purge removes the comment and its replies for good.
                if ids.len() > 20 {
                    sqlx::query("delete from comments where id = $1")
                        .bind(target)
                        .execute(pool)
                        .await
                        .expect("purge");
                }
            }
        }
        kinds_seen[kind.min(9) / 2] += 1;
        let wrong: Vec<i64> = sqlx::query_scalar(MISMATCHES)
            .bind(post_id)
            .fetch_all(pool)
            .await
            .expect("compare");
        assert!(
            wrong.is_empty(),
            "step {step} (operation {kind} on {target}): stored visibility is wrong for {wrong:?}"
        );
    }
    assert!(
        kinds_seen.iter().all(|&n| n > 0),
        "every operation ran: {kinds_seen:?}"
    );
    // The walk reached the interesting states: replies under held comments, tombstones that
    // still show and tombstones that do not.
    let (under_held, shown_tombstones, hidden_tombstones): (i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where under_held), \
                count(*) filter (where status = 'deleted' and visible_to_public), \
                count(*) filter (where status = 'deleted' and not visible_to_moderators) \
         from comments where post_id = $1",
    )
    .bind(post_id)
    .fetch_one(pool)
    .await
    .expect("states");
    assert!(under_held > 0 && shown_tombstones + hidden_tombstones > 0);
    app.stop().await;
}
