//! Bad configuration and environment: one clear sentence on stderr, a non-zero exit, never
//! a panic.

use std::process::Output;

use gazette_store::testing::TestDatabase;

use crate::support::gazette;

/// Asserts a failed run with a one-sentence explanation containing `expected`.
fn assert_clear_failure(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "expected a failure, got {output:?}"
    );
    assert!(
        stderr.contains(expected),
        "stderr lacks {expected:?}: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic is never an answer: {stderr}"
    );
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

#[tokio::test]
async fn missing_postgres_binaries_say_what_to_install() {
    let empty = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    let bin_dir = empty.path().to_str().expect("utf-8 path");
    let data_dir = data.path().to_str().expect("utf-8 path");
    let output = gazette(
        &[
            "migrate",
            "--postgres-bin-dir",
            bin_dir,
            "--data-dir",
            data_dir,
        ],
        &[],
    )
    .await;
    assert_clear_failure(&output, "install the PostgreSQL server package");
    assert_clear_failure(&output, "DATABASE_URL");
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let output = gazette(
        &["migrate"],
        &[(
            "DATABASE_URL",
            "postgres://gazette:s3cret@127.0.0.1:1/gazette",
        )],
    )
    .await;
    assert_clear_failure(
        &output,
        "cannot connect to the database at postgres://gazette:***@127.0.0.1:1/gazette",
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("s3cret"));
}

#[tokio::test]
async fn an_unusable_data_directory_is_refused() {
    let parent = tempfile::tempdir().expect("temp dir");
    let file = parent.path().join("plain-file");
    std::fs::write(&file, "x").expect("write");
    let data_dir = file.join("data");
    let output = gazette(
        &["migrate", "--data-dir", data_dir.to_str().expect("utf-8")],
        &[],
    )
    .await;
    assert_clear_failure(&output, "is not usable");
}

#[tokio::test]
async fn a_taken_port_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let database = TestDatabase::create().await;
    let output = gazette(
        &["api", "--listen", &address],
        &[("DATABASE_URL", database.url())],
    )
    .await;
    assert_clear_failure(&output, &format!("cannot listen on {address}"));
}

/// clap names a refused value's flag; a value that came from the flag's environment
/// variable is also named by that variable, the thing the user has to change.
#[tokio::test]
async fn a_refused_value_from_the_environment_names_its_variable() {
    let from_environment = gazette(&["migrate"], &[("GAZETTE_SEED", "maybe")]).await;
    assert_clear_failure(
        &from_environment,
        "invalid value 'maybe' for '--seed <SEED>'",
    );
    assert_clear_failure(
        &from_environment,
        "the value came from the environment variable GAZETTE_SEED",
    );
    assert_eq!(from_environment.status.code(), Some(2));
    // Typed on the command line, which wins over the variable: no tip.
    for args in [
        vec!["migrate", "--seed", "maybe"],
        vec!["migrate", "--seed=maybe"],
    ] {
        let typed = gazette(&args, &[("GAZETTE_SEED", "true")]).await;
        assert_clear_failure(&typed, "invalid value 'maybe' for '--seed <SEED>'");
        let stderr = String::from_utf8_lossy(&typed.stderr);
        assert!(
            !stderr.contains("environment variable"),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn unknown_setting_values_are_refused() {
    for (args, env, expected) in [
        (
            vec!["migrate"],
            vec![("GAZETTE_SEED", "maybe")],
            "invalid value 'maybe'",
        ),
        (
            vec!["migrate", "--schedule", "every tuesday"],
            vec![],
            "invalid schedule",
        ),
        (
            vec!["migrate", "--listen", "localhost"],
            vec![],
            "invalid value 'localhost'",
        ),
        (
            vec!["migrate", "--public-url", "blog.example"],
            vec![],
            "must be an http:// or https:// address",
        ),
        (
            vec!["token", "create", "--name", "x", "--role", "root"],
            vec![],
            "invalid value 'root'",
        ),
        // Found by probing the settings at the edges of their ranges: each of these was
        // accepted and made something silently useless (a socket closed before it could
        // subscribe, a form that could never be sent, a worker that never rebuilt a feed,
        // a language tag written as is into every feed), or refused with a sentence that
        // did not say why.
        (
            vec!["migrate", "--ws-idle-timeout", "0"],
            vec![],
            "must be longer than zero",
        ),
        (
            vec!["migrate", "--moderation-session-lifetime", "48h"],
            vec![],
            "longer than 24h, the longest a duration may be",
        ),
        (
            vec!["migrate", "--site-language", "not a tag!!"],
            vec![],
            "is not a language tag",
        ),
        (
            vec!["migrate", "--log", "gazette=notalevel"],
            vec![],
            "is not a log filter",
        ),
        (
            vec![
                "migrate",
                "--comment-form-lifetime",
                "3s",
                "--comment-form-min-fill",
                "3s",
            ],
            vec![],
            "must be longer than --comment-form-min-fill",
        ),
        (
            vec!["serve", "--db-max-connections", "1"],
            vec![],
            "--db-max-connections must be at least 2 where the worker runs",
        ),
        (
            vec!["worker", "--once"],
            vec![("GAZETTE_DB_MAX_CONNECTIONS", "1")],
            "--db-max-connections must be at least 2 where the worker runs",
        ),
    ] {
        let output = gazette(&args, &env).await;
        assert_clear_failure(&output, expected);
        assert_eq!(
            output.status.code(),
            Some(2),
            "usage errors exit with 2: {args:?}"
        );
    }
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_from_the_command_line() {
    let database = TestDatabase::create().await;
    let env = [("DATABASE_URL", database.url())];
    let created = gazette(
        &["token", "create", "--name", "Jane Doe", "--role", "author"],
        &env,
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let secret = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(secret.starts_with("gz_") && secret.len() > 40, "{secret}");
    let note = String::from_utf8_lossy(&created.stderr);
    assert!(note.contains("shown only this once"), "{note}");

    let listed = gazette(&["token", "list"], &env).await;
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listing.contains("Jane Doe") && listing.contains("author"),
        "{listing}"
    );
    assert!(!listing.contains(&secret), "secrets are never listed");
    // Columns line up: every row's name starts where the header's does.
    let name_column = listing
        .lines()
        .next()
        .and_then(|header| header.find("name"))
        .expect("header");
    for row in listing
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
    {
        assert!(
            row.get(name_column..)
                .is_some_and(|rest| !rest.starts_with(' '))
                && row[..name_column].ends_with("  "),
            "misaligned row {row:?} in\n{listing}"
        );
    }
    let id = listing
        .lines()
        .find(|line| line.contains("Jane Doe"))
        .and_then(|line| line.split_whitespace().next())
        .expect("the token's id")
        .to_owned();

    let revoked = gazette(&["token", "revoke", &id], &env).await;
    assert!(revoked.status.success(), "{revoked:?}");
    let pool = database.pool().await;
    let owner = gazette_store::tokens::authenticate(&pool, &secret)
        .await
        .expect("check");
    assert_eq!(owner, None, "a revoked token no longer authenticates");
    let again = gazette(&["token", "revoke", &id], &env).await;
    assert_clear_failure(&again, "no active token");
    let empty_name = gazette(&["token", "create", "--name", " ", "--role", "admin"], &env).await;
    assert_clear_failure(&empty_name, "--name");
}

/// Issue 11, item 10: one-off commands print no PostgreSQL notices at the default level,
/// logs carry no colour codes when stderr is not a terminal, and `--log-format json`
/// writes one JSON object per line.
#[tokio::test]
async fn logs_are_plain_quiet_and_optionally_json() {
    let database = gazette_store::testing::TestDatabase::create().await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    let data_dir = data_dir.path().to_str().expect("utf-8").to_owned();
    for _ in 0..2 {
        let output = gazette(
            &[
                "migrate",
                "--database-url",
                database.url(),
                "--data-dir",
                &data_dir,
            ],
            &[("GAZETTE_LOG", "info")],
        )
        .await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("already exists, skipping"), "{stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "colour codes on a pipe: {stderr:?}"
        );
    }
    // `worker --once` logs its run at info; as JSON, every line is an object.
    let output = gazette(
        &[
            "worker",
            "--once",
            "--database-url",
            database.url(),
            "--data-dir",
            &data_dir,
        ],
        &[("GAZETTE_LOG", "info"), ("GAZETTE_LOG_FORMAT", "json")],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert!(!lines.is_empty(), "the run was logged: {output:?}");
    for line in lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"));
        assert!(
            event["level"].is_string() && event["fields"].is_object(),
            "{line}"
        );
    }
}
