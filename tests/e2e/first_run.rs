//! First start against a database: the admin token and the demo seed, exactly once.

use std::os::unix::fs::PermissionsExt;

use gazette::seed::{ADMIN_TOKEN_FILE, first_run};
use gazette_store::PgPool;
use gazette_store::testing::TestDatabase;
use gazette_store::tokens::{self, Role};

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(pool)
        .await
        .expect("count rows")
}

#[tokio::test]
async fn seeds_the_demo_post_and_one_admin_token_exactly_once() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let data_dir = tempfile::tempdir().expect("temp dir");

    first_run(&pool, data_dir.path(), true)
        .await
        .expect("first run");
    let token_path = data_dir.path().join(ADMIN_TOKEN_FILE);
    let token = std::fs::read_to_string(&token_path).expect("the admin token file");
    let mode = std::fs::metadata(&token_path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the token file must be private");
    let owner = tokens::authenticate(&pool, token.trim())
        .await
        .expect("authenticate")
        .expect("the saved token is valid");
    assert_eq!(owner.role, Role::Admin);

    first_run(&pool, data_dir.path(), true)
        .await
        .expect("second run");
    assert_eq!(
        std::fs::read_to_string(&token_path).expect("token file"),
        token,
        "the second start leaves the token alone"
    );
    assert_eq!(count(&pool, "api_tokens").await, 1);
    assert_eq!(count(&pool, "posts").await, 1);
    assert_eq!(count(&pool, "comments").await, 2);
    assert_eq!(count(&pool, "social_channels").await, 7);
    assert_eq!(count(&pool, "post_tags").await, 3);

    let post: (String, String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select title, status, published_at from posts")
            .fetch_one(&pool)
            .await
            .expect("the post");
    assert_eq!(
        post.0,
        "The implementation of Enterprise 2.0 by government departments"
    );
    assert_eq!(post.1, "published");
    assert_eq!(post.2.date_naive().to_string(), "2013-08-22");

    let thread: Vec<(i32, String, Option<i64>)> =
        sqlx::query_as("select depth, body, parent_id from comments order by path")
            .fetch_all(&pool)
            .await
            .expect("the thread");
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[0].0, 0);
    assert!(thread[0].1.starts_with("Good read!"));
    assert_eq!(
        thread[1].0, 1,
        "the reply is threaded under the first comment"
    );
    assert!(thread[1].1.starts_with("Thank you for commenting"));
    assert!(thread[1].2.is_some());

    let channels: Vec<(String, String, String)> =
        sqlx::query_as("select slug, kind, url from social_channels order by position")
            .fetch_all(&pool)
            .await
            .expect("channels");
    assert_eq!(
        channels[0],
        (
            "facebook".to_owned(),
            "facebook".to_owned(),
            "http://australia.gov.au/news-and-media/social-media/facebook".to_owned()
        )
    );
    assert_eq!(channels[6].0, "podcasts");
    assert_eq!(channels[6].1, "podcast");
}

#[tokio::test]
async fn concurrent_first_starts_seed_once() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let first_dir = tempfile::tempdir().expect("temp dir");
    let second_dir = tempfile::tempdir().expect("temp dir");
    let (first, second) = tokio::join!(
        first_run(&pool, first_dir.path(), true),
        first_run(&pool, second_dir.path(), true)
    );
    first.expect("first");
    second.expect("second");
    assert_eq!(count(&pool, "api_tokens").await, 1);
    assert_eq!(count(&pool, "posts").await, 1);
    let token_files = [first_dir.path(), second_dir.path()]
        .iter()
        .filter(|dir| dir.join(ADMIN_TOKEN_FILE).exists())
        .count();
    assert_eq!(token_files, 1, "exactly one process writes the token");
}

#[tokio::test]
async fn seeding_can_be_turned_off_and_never_touches_a_filled_database() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    first_run(&pool, data_dir.path(), false)
        .await
        .expect("first run without seed");
    assert_eq!(
        count(&pool, "api_tokens").await,
        1,
        "the admin token is made anyway"
    );
    assert_eq!(count(&pool, "posts").await, 0);

    // Someone writes a post before seeding is ever turned on: the demo stays out.
    sqlx::query("insert into authors (slug, name) values ('jo', 'Jo')")
        .execute(&pool)
        .await
        .expect("author");
    sqlx::query("insert into posts (author_id, slug, title) select id, 'mine', 'Mine' from authors where slug = 'jo'")
        .execute(&pool)
        .await
        .expect("post");
    first_run(&pool, data_dir.path(), true)
        .await
        .expect("later run with seed");
    assert_eq!(count(&pool, "posts").await, 1);
    assert_eq!(count(&pool, "social_channels").await, 0);
}

#[tokio::test]
async fn an_unwritable_token_file_leaves_nothing_half_done() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let parent = tempfile::tempdir().expect("temp dir");
    let blocker = parent.path().join("a-file");
    std::fs::write(&blocker, "not a directory").expect("write");
    let error = first_run(&pool, &blocker.join("data"), true)
        .await
        .expect_err("the token cannot be saved");
    assert!(format!("{error:#}").contains("not usable"), "{error:#}");
    assert_eq!(count(&pool, "api_tokens").await, 0);
    assert_eq!(count(&pool, "posts").await, 0);
    assert_eq!(
        count(&pool, "gazette_meta").await,
        0,
        "the next start tries again"
    );
}

#[tokio::test]
async fn the_token_file_is_private_and_never_written_through_a_link() {
    use std::os::unix::fs::PermissionsExt;

    // A file left readable by everyone is made private when the token goes in.
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    let file = data_dir.path().join("admin-token");
    std::fs::write(&file, "old\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    first_run(&pool, data_dir.path(), false)
        .await
        .expect("first run");
    let mode = std::fs::metadata(&file).expect("file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&file)
            .expect("read")
            .starts_with("gz_")
    );

    // A link planted where the file goes is refused, and its target left alone.
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    let victim = data_dir.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("write");
    std::os::unix::fs::symlink(&victim, data_dir.path().join("admin-token")).expect("link");
    first_run(&pool, data_dir.path(), false)
        .await
        .expect_err("a link is not followed");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("read"),
        "precious\n"
    );
    assert_eq!(count(&pool, "api_tokens").await, 0, "nothing half done");
}
