//! The embedded PostgreSQL cluster a `gazette` data directory holds, seen from outside:
//! stopped and started under the server, and connected to as the application does.

use std::path::Path;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// A new directory under /tmp with a short name: a cluster's socket path must stay short
/// (Unix allows about a hundred bytes), and the postgres user must reach it.
pub fn short_temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("temp dir")
}

/// `pg_ctl` on the embedded cluster of `data_dir`, as the user the cluster runs as.
pub fn pg_ctl(data_dir: &Path, action: &[&str]) {
    let pg_ctl = glob_pg_ctl();
    let pgdata = data_dir.join("postgres/data");
    let log = data_dir.join("postgres/server.log");
    let mut arguments: Vec<String> = vec![pg_ctl];
    arguments.extend(action.iter().map(|part| (*part).to_owned()));
    arguments.extend([
        "-D".to_owned(),
        pgdata.display().to_string(),
        "-l".to_owned(),
        log.display().to_string(),
        "-w".to_owned(),
        "-t".to_owned(),
        "60".to_owned(),
    ]);
    let root = nix::unistd::Uid::effective().is_root();
    let status = if root {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(&arguments)
            .status()
    } else {
        std::process::Command::new(&arguments[0])
            .args(&arguments[1..])
            .status()
    }
    .expect("run pg_ctl");
    assert!(status.success(), "pg_ctl {action:?}: {status:?}");
}

/// The newest installed PostgreSQL's `pg_ctl` (Debian's layout), or `pg_ctl` on the PATH.
pub fn glob_pg_ctl() -> String {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/pg_ctl"))
        .filter(|path| path.exists())
        .collect();
    found.sort();
    found
        .pop()
        .map_or_else(|| "pg_ctl".to_owned(), |path| path.display().to_string())
}

/// The DATABASE_URL of the embedded cluster in `data_dir` (its socket, the app's role).
pub fn database_url(data_dir: &Path) -> String {
    let password = std::fs::read_to_string(data_dir.join("postgres-password")).expect("password");
    format!(
        "postgres://gazette_app:{}@localhost/gazette?host={}",
        password.trim(),
        data_dir.join("postgres").display()
    )
}

/// Connects to the embedded cluster of `data_dir` as the application does: its own role,
/// with the password in the data directory.
pub async fn connect_embedded(data_dir: &Path) -> PgConnection {
    connect_as(data_dir, "gazette_app", "postgres-password").await
}

/// Connects to the embedded cluster of `data_dir` as its superuser.
pub async fn connect_embedded_as_superuser(data_dir: &Path) -> PgConnection {
    connect_as(data_dir, "gazette", "postgres-superuser-password").await
}

/// Connects over the cluster's socket as `user`, with the password in `password_file`.
async fn connect_as(data_dir: &Path, user: &str, password_file: &str) -> PgConnection {
    let password =
        std::fs::read_to_string(data_dir.join(password_file)).expect("the password file");
    let options = PgConnectOptions::new()
        .socket(data_dir.join("postgres"))
        .username(user)
        .password(password.trim())
        .database("gazette");
    PgConnection::connect_with(&options)
        .await
        .expect("connect over the Unix socket")
}
