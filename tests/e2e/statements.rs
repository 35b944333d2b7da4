//! No N+1: the statements a request runs do not grow with the page size. Counted by
//! PostgreSQL itself (pg_stat_statements), never timed.

use gazette_store::authors;
use gazette_store::comments::{self, CommentStatus, NewComment};
use gazette_store::posts::{self, NewPost, PostStatus};
use gazette_store::tags::{self, TagName};
use serde_json::json;

use crate::support::{TestApp, WHOLE_BATCHES, insert_published_post};

const QUERY: &str = "query($first: Int) { posts(first: $first) { edges { node { author { name } tags { name } commentCount } } } }";

/// 60 published posts by 3 authors, each with 2 tags and a comment.
async fn fill(app: &TestApp) {
    let mut tx = app.pool.begin().await.expect("begin");
    let mut author_ids = Vec::new();
    for name in ["Ann", "Ben", "Cy"] {
        let author = authors::find_or_create(&mut tx, &name.to_lowercase(), name)
            .await
            .expect("author");
        author_ids.push(author.id);
    }
    for n in 0..60 {
        let slug = format!("post-{n}");
        let post = posts::insert(
            &mut *tx,
            &NewPost {
                author_id: author_ids[n % 3],
                slug: &slug,
                title: &slug,
                body: "Body",
                body_html: "<p>Body</p>",
                excerpt: "Body",
                custom_excerpt: false,
                status: PostStatus::Published,
                comments_open: true,
                published_at: Some(chrono::Utc::now() - chrono::TimeDelta::hours(n as i64 + 1)),
            },
        )
        .await
        .expect("post");
        let tag_names = [format!("tag-{}", n % 5), format!("tag-{}", n % 7 + 10)];
        let tag_refs: Vec<TagName> = tag_names
            .iter()
            .map(|name| TagName { slug: name, name })
            .collect();
        tags::set_post_tags(&mut tx, post.id, &tag_refs)
            .await
            .expect("tags");
        comments::insert(
            &mut *tx,
            &NewComment {
                post_id: post.id,
                parent_id: None,
                author_name: "Reader",
                author_email: None,
                author_url: None,
                author_id: None,
                body: "Nice",
                body_html: "<p>Nice</p>",
                status: CommentStatus::Published,
                created_at: None,
                client_address: None,
                client_mutation_id: None,
            },
        )
        .await
        .expect("comment");
    }
    tx.commit().await.expect("commit");
}

async fn statements_for(app: &TestApp, first: i64) -> i64 {
    app.database.statements_since_last_count().await;
    let response = app.graphql(QUERY, json!({ "first": first })).await;
    assert!(response.get("errors").is_none(), "{response}");
    let edges = response["data"]["posts"]["edges"]
        .as_array()
        .expect("edges");
    assert_eq!(edges.len() as i64, first);
    assert!(edges.iter().all(|edge| edge["node"]["commentCount"] == 1));
    assert!(
        edges
            .iter()
            .all(|edge| edge["node"]["tags"].as_array().map(Vec::len) == Some(2))
    );
    app.database.statements_since_last_count().await
}

#[tokio::test]
async fn a_page_of_posts_with_relations_runs_a_fixed_number_of_statements() {
    let app = TestApp::spawn_api_only_with(&WHOLE_BATCHES).await;
    fill(&app).await;
    // Warm up the pool so connection set-up is not counted.
    statements_for(&app, 1).await;

    let small = statements_for(&app, 5).await;
    let large = statements_for(&app, 50).await;
    // The page, then one batch each for authors, tags and comment counts.
    assert_eq!(small, 4, "statements for 5 posts");
    assert_eq!(large, 4, "statements for 50 posts");
    app.stop().await;
}

/// A post with 10,000 comments: 200 chains, each 50 levels deep.
async fn deep_thread(app: &TestApp) -> i64 {
    let post_id = insert_published_post(&app.pool, ("deep", "Deep"), ("deep", "Deep")).await;
    sqlx::query(
        "insert into comments (post_id, author_name, body, body_html) \
         select $1, 'Reader', 'level 0', '<p>level 0</p>' from generate_series(1, 200)",
    )
    .bind(post_id)
    .execute(&app.pool)
    .await
    .expect("top level");
    for level in 1..50 {
        sqlx::query(
            "insert into comments (post_id, parent_id, author_name, body, body_html) \
             select post_id, id, 'Reader', 'level ' || $2, '<p>level ' || $2 || '</p>' \
             from comments where post_id = $1 and depth = $2 - 1 order by id",
        )
        .bind(post_id)
        .bind(level)
        .execute(&app.pool)
        .await
        .expect("a level");
    }
    post_id
}

#[tokio::test]
async fn a_deep_thread_pages_with_one_statement_per_page() {
    let app = TestApp::spawn_api_only_with(&WHOLE_BATCHES).await;
    let post_id = deep_thread(&app).await;
    let count: i64 = sqlx::query_scalar("select count(*) from comments")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(count, 10_000);
    let post =
        gazette_api::graphql::GlobalId::new(gazette_api::graphql::NodeKind::Post, post_id).to_id();
    let query = "query($id: ID, $after: String) { post(id: $id) { thread(first: 100, after: $after) { pageInfo { endCursor hasNextPage } edges { node { depth body } } } } }";

    let mut after = serde_json::Value::Null;
    let mut seen = 0;
    let mut deepest = 0;
    for page in 0..3 {
        app.database.statements_since_last_count().await;
        let response = app
            .graphql(query, json!({ "id": post.0, "after": after }))
            .await;
        let statements = app.database.statements_since_last_count().await;
        let thread = &response["data"]["post"]["thread"];
        let edges = thread["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{response}"));
        assert_eq!(edges.len(), 100);
        seen += edges.len();
        deepest = deepest.max(
            edges
                .iter()
                .map(|edge| edge["node"]["depth"].as_i64().unwrap_or(0))
                .max()
                .unwrap_or(0),
        );
        // The first request runs on the resolvers: one statement finds the post, one
        // reads the page of its thread. Its plan then reads both in one statement.
        let expected = if page == 0 { 2 } else { 1 };
        assert_eq!(statements, expected, "statements for page {page}");
        after = thread["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, 300);
    assert_eq!(deepest, 49, "a chain is 50 levels deep: depths 0 to 49");
    app.stop().await;
}

#[tokio::test]
async fn nested_comment_lists_run_a_fixed_number_of_statements() {
    let app = TestApp::spawn_api_only_with(&WHOLE_BATCHES).await;
    fill(&app).await;
    // Every post gets three top-level comments with two replies each.
    sqlx::query(
        "insert into comments (post_id, author_name, body, body_html) \
         select p.id, 'Reader', 'top', '<p>top</p>' from posts p, generate_series(1, 3)",
    )
    .execute(&app.pool)
    .await
    .expect("comments");
    sqlx::query(
        "insert into comments (post_id, parent_id, author_name, body, body_html) \
         select c.post_id, c.id, 'Reader', 'reply', '<p>reply</p>' from comments c, generate_series(1, 2) \
         where c.parent_id is null and c.body = 'top'",
    )
    .execute(&app.pool)
    .await
    .expect("replies");
    let query = "query($first: Int) { posts(first: $first) { edges { node { comments(first: 10) { edges { node { replies(first: 5) { totalCount } } } } } } } }";
    let mut counts = Vec::new();
    for first in [5, 20] {
        app.database.statements_since_last_count().await;
        let response = app.graphql(query, json!({ "first": first })).await;
        counts.push(app.database.statements_since_last_count().await);
        let posts = response["data"]["posts"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{response}"));
        assert_eq!(posts.len(), first);
        for post in posts {
            let comments = post["node"]["comments"]["edges"]
                .as_array()
                .expect("comments");
            // `fill` gave each post one comment; this test three more.
            assert_eq!(comments.len(), 4);
            assert_eq!(reply_counts(comments), [0, 2, 2, 2]);
        }
    }
    // The resolvers (the document's first run): the page of posts, one batch of comment
    // pages, one of reply pages, one of reply counts. Its plan (the second): no statement
    // for the counts, as every reply page came back shorter than its window and so holds
    // all of its comment's replies.
    assert_eq!(counts, [4, 3]);

    // A comment with more replies than its page: the plan counts that one comment's.
    let crowded: i64 = sqlx::query_scalar(
        "select c.id from comments c join posts p on p.id = c.post_id \
         where c.parent_id is null and c.body = 'top' \
         order by coalesce(p.published_at, p.created_at) desc, p.id desc, c.id limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("a top-level comment on the front page");
    sqlx::query(
        "insert into comments (post_id, parent_id, author_name, body, body_html) \
         select c.post_id, c.id, 'Reader', 'reply', '<p>reply</p>' \
         from comments c, generate_series(1, 5) where c.id = $1",
    )
    .bind(crowded)
    .execute(&app.pool)
    .await
    .expect("more replies");
    app.database.statements_since_last_count().await;
    // Three posts: variables no earlier request used, so no cached answer.
    let response = app.graphql(query, json!({ "first": 3 })).await;
    assert_eq!(app.database.statements_since_last_count().await, 4);
    let first_post = &response["data"]["posts"]["edges"][0]["node"]["comments"]["edges"];
    let comments = first_post
        .as_array()
        .unwrap_or_else(|| panic!("{response}"));
    assert_eq!(reply_counts(comments), [0, 7, 2, 2], "{response}");
    app.stop().await;
}

/// Each comment edge's `replies { totalCount }`.
fn reply_counts(comments: &[serde_json::Value]) -> Vec<i64> {
    comments
        .iter()
        .map(|comment| {
            comment["node"]["replies"]["totalCount"]
                .as_i64()
                .expect("count")
        })
        .collect()
}

/// The benchmark's own workloads (bench/queries), uncached, on synthetic sites of two
/// sizes: each runs a fixed number of statements, whatever the site holds (a plan's
/// count of replies is read only for a comment with more replies than its page shows,
/// and the synthetic sites have none on the front page).
#[tokio::test]
async fn the_benchmark_workloads_run_a_fixed_number_of_statements() {
    let workloads = [
        (
            "q1",
            include_str!("../../bench/queries/q1.gazette.graphql"),
            4,
            4,
        ),
        (
            "q1p",
            include_str!("../../bench/queries/q1p.gazette.graphql"),
            4,
            4,
        ),
        (
            "q2",
            include_str!("../../bench/queries/q2.gazette.graphql"),
            2,
            1,
        ),
        (
            "q2r",
            include_str!("../../bench/queries/q2r.gazette.graphql"),
            2,
            1,
        ),
        (
            "q3",
            include_str!("../../bench/queries/q3.gazette.graphql"),
            4,
            // No statement for the replies' `totalCount`: no comment on the front page has
            // more replies than its page shows (`nested_comment_lists_…` has one that does).
            3,
        ),
        (
            "comment",
            include_str!("../../bench/queries/comment.gazette.graphql"),
            5,
            5,
        ),
    ];
    for posts in [25, 50] {
        let app = TestApp::spawn_api_only_with(&[
            WHOLE_BATCHES[0],
            WHOLE_BATCHES[1],
            WHOLE_BATCHES[2],
            WHOLE_BATCHES[3],
            "--graphql-cache-ttl",
            "0",
            "--comment-moderation",
            "open",
            "--comment-rate-limit",
            "0",
        ])
        .await;
        gazette_store::synthetic::generate(
            &app.pool,
            &gazette_store::synthetic::SyntheticSite {
                posts,
                big_thread_chains: 4,
                big_thread_depth: 40,
                ..Default::default()
            },
        )
        .await
        .expect("synthetic site");
        let post_id: i64 = sqlx::query_scalar("select id from posts where slug = 'post-1'")
            .fetch_one(&app.pool)
            .await
            .expect("post-1");
        let post =
            gazette_api::graphql::GlobalId::new(gazette_api::graphql::NodeKind::Post, post_id)
                .to_id();
        // Warm up the pool so connection set-up is not counted.
        app.graphql(workloads[0].1, json!({})).await;
        let first_page = app
            .graphql("{ posts(first: 20) { pageInfo { endCursor } } }", json!({}))
            .await;
        let after = first_page["data"]["posts"]["pageInfo"]["endCursor"].clone();
        assert!(after.is_string(), "{first_page}");
        // Every workload's variables, each query taking the ones it declares.
        let variables = json!({
            "input": { "postId": post.0, "authorName": "Bench reader", "body": "A comment." },
            "after": after,
            "slug": "post-2",
        });
        // Each query twice: its first request runs on the resolvers, the second on its
        // compiled plan (mutations always on the resolvers). A plan reads a post and its
        // thread page in one statement where the resolvers take two.
        let answered = || {
            gazette_metrics::metrics()
                .graphql_compiled
                .with_label_values(&["answered"])
                .get()
        };
        let compiled_before = answered();
        let runs = workloads.iter().flat_map(|(name, query, resolvers, plan)| {
            [(*name, *query, *resolvers), (*name, *query, *plan)]
        });
        for (name, query, expected) in runs {
            app.database.statements_since_last_count().await;
            let response = app.graphql(query, variables.clone()).await;
            let statements = app.database.statements_since_last_count().await;
            assert!(response.get("errors").is_none(), "{name}: {response}");
            let data = response["data"].as_object().expect("data");
            assert!(
                data.values().all(|value| !value.is_null()),
                "{name}: {response}"
            );
            assert_eq!(
                statements, expected,
                "statements of {name} on {posts} posts"
            );
        }
        assert!(
            answered() >= compiled_before + 5,
            "the second run of q1, q1p, q2, q2r and q3 was answered by its plan"
        );
        if posts == 25 {
            let thread = app.graphql(workloads[2].1, json!({})).await;
            let edges = thread["data"]["post"]["thread"]["edges"]
                .as_array()
                .expect("edges");
            assert_eq!(edges.len(), 100, "a full page of the big thread");
            // Chains of 40: the page holds three chain heads (no parent); every reply has its parent.
            let heads = edges
                .iter()
                .filter(|edge| edge["node"]["parent"].is_null())
                .count();
            assert_eq!(heads, 3);
        }
        app.stop().await;
    }
}

/// The post lists under tags and authors: one statement per level, however many tags or
/// authors the answer holds (a probe once made 8,000 statements from one document this
/// way). `fill` gives 60 posts by 3 authors, tags `tag-0`..`tag-4` and `tag-10`..`tag-16`.
#[tokio::test]
async fn post_lists_under_tags_and_authors_run_a_fixed_number_of_statements() {
    let app = TestApp::spawn_api_only_with(&WHOLE_BATCHES).await;
    fill(&app).await;
    // One draft by Ann with tag-0: counted and listed by no one here (anonymous reader).
    let ann: i64 = sqlx::query_scalar("select id from authors where slug = 'ann'")
        .fetch_one(&app.pool)
        .await
        .expect("ann");
    let draft = posts::insert(
        &app.pool,
        &NewPost {
            author_id: ann,
            slug: "draft",
            title: "draft",
            body: "Body",
            body_html: "<p>Body</p>",
            excerpt: "Body",
            custom_excerpt: false,
            status: PostStatus::Draft,
            comments_open: true,
            published_at: None,
        },
    )
    .await
    .expect("draft");
    let mut tx = app.pool.begin().await.expect("begin");
    tags::set_post_tags(
        &mut tx,
        draft.id,
        &[TagName {
            slug: "tag-0",
            name: "tag-0",
        }],
    )
    .await
    .expect("draft's tag");
    tx.commit().await.expect("commit");
    app.graphql("{ tags { totalCount } }", json!({})).await;

    let every_tag = "query($first: Int) { posts(first: $first) { nodes { tags { slug posts(first: 3) { totalCount nodes { slug } } } } } }";
    let mut counts = Vec::new();
    for first in [2, 50] {
        app.database.statements_since_last_count().await;
        let response = app.graphql(every_tag, json!({ "first": first })).await;
        counts.push(app.database.statements_since_last_count().await);
        assert!(response.get("errors").is_none(), "{response}");
        let posts = response["data"]["posts"]["nodes"]
            .as_array()
            .expect("posts");
        assert_eq!(posts.len(), first);
        for tag in posts
            .iter()
            .flat_map(|post| post["tags"].as_array().expect("tags"))
        {
            let slug = tag["slug"].as_str().expect("slug");
            let number: usize = slug["tag-".len()..].parse().expect("number");
            // tag-n (n < 5) is on posts n, n+5, …: 12 of 60; tag-(10+n) on n, n+7, …: 8 or 9.
            let expected = if number < 5 {
                12
            } else {
                (60 - (number - 10)).div_ceil(7)
            };
            assert_eq!(tag["posts"]["totalCount"], expected, "{slug}");
            let listed = tag["posts"]["nodes"].as_array().expect("nodes");
            assert_eq!(listed.len(), 3, "{slug}");
            for post in listed {
                let post = post["slug"].as_str().expect("slug");
                let n: usize = post["post-".len()..].parse().expect("a published post");
                assert!(
                    n % 5 == number || n % 7 + 10 == number,
                    "{slug} lists {post}"
                );
            }
        }
    }
    // The posts, their tags, the tags' post pages and their counts.
    assert_eq!(counts[0], 4, "statements for 2 posts");
    assert_eq!(counts[1], 4, "statements for 50 posts");

    // Authors' lists, paged newest first to the end: every published post once.
    let by_author = "query($after: String) { authors { nodes { slug posts(first: 7, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { slug publishedAt } } } } }";
    app.database.statements_since_last_count().await;
    let response = app.graphql(by_author, json!({})).await;
    assert_eq!(app.database.statements_since_last_count().await, 3);
    let authors = response["data"]["authors"]["nodes"]
        .as_array()
        .expect("authors");
    assert_eq!(authors.len(), 3, "{response}");
    for author in authors {
        assert_eq!(author["posts"]["totalCount"], 20, "{author}");
    }
    let ann_posts = |response: &serde_json::Value| {
        response["data"]["authors"]["nodes"]
            .as_array()
            .expect("authors")
            .iter()
            .find(|author| author["slug"] == "ann")
            .expect("ann")["posts"]
            .clone()
    };
    let mut seen: Vec<String> = Vec::new();
    let mut page = ann_posts(&response);
    loop {
        for post in page["nodes"].as_array().expect("nodes") {
            seen.push(post["slug"].as_str().expect("slug").to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        let after = page["pageInfo"]["endCursor"].clone();
        page = ann_posts(&app.graphql(by_author, json!({ "after": after })).await);
    }
    // Ann wrote posts 0, 3, 6, … (n % 3 == 0), published an hour apart, newest first.
    let expected: Vec<String> = (0..60).step_by(3).map(|n| format!("post-{n}")).collect();
    assert_eq!(seen, expected);
    app.stop().await;
}
