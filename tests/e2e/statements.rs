//! No N+1: the statements a request runs do not grow with the page size. Counted by
//! PostgreSQL itself (pg_stat_statements), never timed.

use gazette_store::authors;
use gazette_store::comments::{self, CommentStatus, NewComment};
use gazette_store::posts::{self, NewPost, PostStatus};
use gazette_store::tags::{self, TagName};
use serde_json::json;

use crate::helpers::TestApp;

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
    let app = TestApp::spawn_api_only().await;
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
