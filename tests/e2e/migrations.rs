//! Migrations: applied to empty and already-migrated databases, and all-or-nothing.

use gazette_store::MIGRATOR;
use gazette_store::testing::TestDatabase;

use crate::support::gazette;

async fn applied_versions(pool: &gazette_store::PgPool) -> Vec<i64> {
    sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
        .fetch_all(pool)
        .await
        .expect("read the migration history")
}

#[tokio::test]
async fn migrate_applies_everything_to_an_empty_database_and_nothing_twice() {
    let database = TestDatabase::create_empty().await;
    let expected: Vec<i64> = MIGRATOR.iter().map(|migration| migration.version).collect();
    assert!(!expected.is_empty());

    for run in ["empty", "already migrated"] {
        let output = gazette(&["migrate"], &[("DATABASE_URL", database.url())]).await;
        assert!(
            output.status.success(),
            "migrate on an {run} database: {output:?}"
        );
    }
    let pool = database.pool().await;
    assert_eq!(applied_versions(&pool).await, expected);
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_schema = 'public' and table_name in ('posts', 'comments', 'api_tokens', 'generated_feeds')",
    )
    .fetch_one(&pool)
    .await
    .expect("count tables");
    assert_eq!(tables, 4);
}

#[tokio::test]
async fn a_failing_migration_leaves_the_database_as_it_was() {
    let database = TestDatabase::create_empty().await;
    let pool = database.pool().await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("1_first.sql"),
        "create table first_table (id int);",
    )
    .expect("write migration");
    std::fs::write(
        dir.path().join("2_broken.sql"),
        "create table half_done (id int);\ninsert into half_done values (1);\nselect 1 / 0;",
    )
    .expect("write migration");
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("load migrations");
    migrator
        .run(&pool)
        .await
        .expect_err("division by zero fails the second migration");

    let exists = |table: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>("select to_regclass($1) is not null")
                .bind(table)
                .fetch_one(&pool)
                .await
                .expect("look up table")
        }
    };
    assert!(
        exists("first_table").await,
        "the good migration stays applied"
    );
    assert!(
        !exists("half_done").await,
        "the failed migration left nothing behind"
    );
    assert_eq!(applied_versions(&pool).await, [1]);
}
