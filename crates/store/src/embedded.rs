//! A PostgreSQL cluster of Gazette's own, under the data directory, for machines where no
//! database server is set up (`DATABASE_URL` unset).
//!
//! We evaluated the maintained crates first: `postgresql_embedded` and `pg-embed` both
//! download PostgreSQL builds at run time (from GitHub or Maven Central), which machines
//! without internet cannot do, and neither drops privileges when started by root, which
//! PostgreSQL refuses. So this module drives the server binaries the system already has
//! (`initdb`, `pg_ctl`), running them as the `postgres` user when we are root.
//!
//! Layout under the data directory:
//! - `gazette.lock`: held (flock) by the gazette process that owns the cluster, released
//!   by the kernel when that process ends, so a second server cannot start on the same data;
//! - `postgres/`: owned by the server's user, mode 0700; holds `data/` (the cluster), the
//!   Unix socket (no TCP port to collide with) and `server.log`;
//! - `postgres-superuser-password` and `postgres-password` (mode 0600, owned by whoever runs
//!   gazette, so not readable by the server's user): the SCRAM passwords of the cluster's
//!   superuser and of the role the application connects as.
//!
//! Who can reach the database: the socket directory is mode 0700 and owned by the server's
//! user, so only that user and root can open the socket, and every connection needs a
//! password (SCRAM; no `trust`). The application connects as `gazette_app`, which owns its
//! database and nothing else: no superuser, no `CREATEDB`, no `CREATEROLE`, so even a SQL
//! injection could not run programs or read files as the server.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// The cluster's superuser, for creating the application's role and database (and tests).
pub const SUPERUSER: &str = "gazette";
/// The role the application connects as: owner of its database, nothing more.
pub const APP_ROLE: &str = "gazette_app";
/// The files, under the data directory, that hold the two passwords.
pub const SUPERUSER_PASSWORD_FILE: &str = "postgres-superuser-password";
pub const APP_PASSWORD_FILE: &str = "postgres-password";
/// The only account PostgreSQL runs as when gazette is started by root.
const SERVER_USER: &str = "postgres";
/// `sun_path` holds 108 bytes including the terminating NUL.
const SOCKET_PATH_MAX: usize = 107;
const SOCKET_NAME: &str = ".s.PGSQL.5432";
/// Where a cluster goes when root's data directory is out of the server user's reach.
const ROOT_FALLBACK_DIR: &str = "/var/lib/gazette";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found {searched}: install the PostgreSQL server package (for example `apt-get install postgresql`) or set DATABASE_URL to use an existing server"
    )]
    BinariesNotFound { searched: String },

    #[error("data directory {} is not usable", dir.display())]
    DataDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "data directory {} is already in use by another gazette process{holder}; stop that process or choose another --data-dir",
        dir.display()
    )]
    InUse { dir: PathBuf, holder: String },

    #[error(
        "the data directory path {} is too long for PostgreSQL's Unix socket (the socket path may have at most {SOCKET_PATH_MAX} bytes); choose a shorter --data-dir",
        dir.display()
    )]
    PathTooLong { dir: PathBuf },

    #[error(
        "the data directory path {} contains {character:?}, which PostgreSQL's tools cannot quote; choose another --data-dir",
        dir.display()
    )]
    UnsupportedPath { dir: PathBuf, character: char },

    #[error(
        "PostgreSQL refuses to run as root, there is no `postgres` user to run it as, and creating one failed ({detail}); create a `postgres` system user or set DATABASE_URL"
    )]
    NoServerUser { detail: String },

    #[error(
        "{} is not a directory gazette made: refusing to use it for the cluster (it may be a link planted to make gazette change another directory); remove it or choose another --data-dir",
        path.display()
    )]
    UnsafeClusterPath { path: PathBuf },

    #[error(
        "the cluster in {} was created before gazette kept its passwords, and could not be given one: {detail}",
        dir.display()
    )]
    Bootstrap { dir: PathBuf, detail: String },

    #[error("{step} failed: {detail}")]
    Command { step: &'static str, detail: String },
}

/// How to run the embedded cluster.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub data_dir: PathBuf,
    /// Where `initdb`, `pg_ctl` and `postgres` are; `None` searches `PATH`, then
    /// `/usr/lib/postgresql/<newest>/bin` and `/usr/pgsql-<newest>/bin`.
    pub bin_dir: Option<PathBuf>,
    /// `false` trades crash safety for speed (no fsync): only for throw-away test clusters.
    pub durable: bool,
    /// Loads `pg_stat_statements`, which tests use to count the statements a request runs.
    pub statement_statistics: bool,
    /// The most connections the process that starts it opens (`--db-max-connections`).
    pub pool_connections: u32,
}

impl EmbeddedOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            bin_dir: None,
            durable: true,
            statement_statistics: false,
            pool_connections: crate::DatabaseConfig::DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// PostgreSQL's `max_connections` for the cluster: 200, or room for twice the pool
    /// (and the listeners, a second process such as a `token` command, psql) when
    /// `--db-max-connections` asks for more than 200 could hold.
    pub fn max_connections(&self) -> u32 {
        self.pool_connections
            .saturating_mul(2)
            .saturating_add(20)
            .max(200)
    }
}

/// A running embedded cluster. Stop it with [`EmbeddedPostgres::stop`]; dropping it stops it
/// too (blocking), as a last resort.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    root: PathBuf,
    /// `root/data`: the cluster itself.
    pgdata: PathBuf,
    pg_ctl: PathBuf,
    server_user: Option<ServerUser>,
    superuser_password: String,
    app_password: String,
    /// `None` when attached to the cluster of another gazette process, which stops it.
    lock: Option<File>,
    running: bool,
}

#[derive(Debug, Clone)]
struct ServerUser {
    name: String,
    uid: u32,
    gid: u32,
}

/// Who may connect, and how: `pg_hba.conf`, rewritten at every start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Passwords (SCRAM) for everyone: how the cluster always runs.
    Passwords,
    /// The superuser without a password, for the moments it takes to give an old cluster
    /// (made by a gazette that used `trust`) its password. The socket is reachable only by
    /// root and the server's user meanwhile.
    Bootstrap,
}

impl EmbeddedPostgres {
    /// Starts the cluster for this process alone, creating it on first use. Fails with
    /// [`EmbeddedError::InUse`] when another gazette process holds the data directory.
    pub async fn start(options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let data_dir = prepare_data_dir(&options.data_dir)?;
        match lock_data_dir(&data_dir)? {
            DataDirLock::Acquired(lock) => Self::start_locked(options, data_dir, lock).await,
            DataDirLock::HeldBy(holder) => Err(EmbeddedError::InUse {
                dir: data_dir,
                holder,
            }),
        }
    }

    /// Like [`EmbeddedPostgres::start`], but when another gazette process holds the data
    /// directory, connects to the cluster it runs instead (for one-off commands such as
    /// `gazette token create` next to a running `gazette serve`).
    pub async fn start_or_attach(options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let data_dir = prepare_data_dir(&options.data_dir)?;
        match lock_data_dir(&data_dir)? {
            DataDirLock::Acquired(lock) => Self::start_locked(options, data_dir, lock).await,
            DataDirLock::HeldBy(holder) => {
                let pg_ctl = find_binaries(options.bin_dir.as_deref())?;
                let in_use = || EmbeddedError::InUse {
                    dir: data_dir.clone(),
                    holder: holder.clone(),
                };
                let Some(root) = existing_cluster_root(&data_dir)? else {
                    return Err(in_use());
                };
                let (Some(superuser_password), Some(app_password)) = (
                    read_password(&data_dir.join(SUPERUSER_PASSWORD_FILE))?,
                    read_password(&data_dir.join(APP_PASSWORD_FILE))?,
                ) else {
                    return Err(in_use());
                };
                let attached = Self {
                    pgdata: root.join("data"),
                    root,
                    pg_ctl,
                    server_user: server_user().await?,
                    superuser_password,
                    app_password,
                    lock: None,
                    running: false,
                };
                if attached.is_running().await? {
                    Ok(attached)
                } else {
                    Err(in_use())
                }
            }
        }
    }

    async fn start_locked(
        options: &EmbeddedOptions,
        data_dir: PathBuf,
        lock: File,
    ) -> Result<Self, EmbeddedError> {
        let pg_ctl = find_binaries(options.bin_dir.as_deref())?;
        let server_user = server_user().await?;
        let root = choose_cluster_root(&data_dir, server_user.as_ref())?;
        let (superuser_password, superuser_password_is_new) =
            load_or_create_password(&data_dir.join(SUPERUSER_PASSWORD_FILE))?;
        let (app_password, _) = load_or_create_password(&data_dir.join(APP_PASSWORD_FILE))?;
        let mut cluster = Self {
            pgdata: root.join("data"),
            root,
            pg_ctl,
            server_user,
            superuser_password,
            app_password,
            lock: Some(lock),
            running: false,
        };
        cluster.prepare_root()?;
        let created = !cluster.pgdata().join("PG_VERSION").is_file();
        if created {
            cluster.initdb().await?;
        }
        // A cluster from before passwords (or whose password file was lost) gets one.
        let access = if superuser_password_is_new && !created {
            Access::Bootstrap
        } else {
            Access::Passwords
        };
        cluster.write_settings(options)?;
        cluster.write_access(access)?;
        if cluster.is_running().await? {
            // Left behind by a gazette process that was killed: we hold the lock now, so
            // it is ours to use and to stop. It reads the access rules afresh.
            tracing::warn!(cluster = %cluster.root.display(), "adopting a PostgreSQL server left running by an earlier gazette process");
            cluster.reload().await?;
        } else {
            let log = cluster.root.join("server.log");
            let result = cluster
                .run(
                    "starting the embedded PostgreSQL server",
                    &cluster.pg_ctl,
                    &[
                        "start".as_ref(),
                        "--silent".as_ref(),
                        "--wait".as_ref(),
                        "--timeout=120".as_ref(),
                        "-D".as_ref(),
                        cluster.pgdata().as_os_str(),
                        "-l".as_ref(),
                        log.as_os_str(),
                    ],
                )
                .await;
            if let Err(EmbeddedError::Command { step, detail }) = result {
                return Err(EmbeddedError::Command {
                    step,
                    detail: format!("{detail}{}", log_tail(&log)),
                });
            }
        }
        cluster.running = true;
        if access == Access::Bootstrap {
            cluster.set_superuser_password().await?;
            cluster.write_access(Access::Passwords)?;
            cluster.reload().await?;
        }
        tracing::info!(socket = %cluster.root.display(), "embedded PostgreSQL is running");
        Ok(cluster)
    }

    /// Connection options for `database` over the cluster's Unix socket, as the
    /// application's role.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.root)
            .username(APP_ROLE)
            .password(&self.app_password)
            .database(database)
    }

    /// Connection options for `database` as the cluster's superuser: for creating the
    /// application's role and database, and for tests.
    pub fn superuser_connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.root)
            .username(SUPERUSER)
            .password(&self.superuser_password)
            .database(database)
    }

    /// The application role's password.
    pub fn app_password(&self) -> &str {
        &self.app_password
    }

    /// The superuser's password (tests hand it to child processes in a URL).
    pub fn superuser_password(&self) -> &str {
        &self.superuser_password
    }

    /// The directory holding the cluster and its socket.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stops the server (fast shutdown: open transactions roll back, nothing committed is
    /// lost) when this process owns it.
    pub async fn stop(mut self) -> Result<(), EmbeddedError> {
        if self.lock.is_none() || !self.running {
            return Ok(());
        }
        self.running = false;
        self.run(
            "stopping the embedded PostgreSQL server",
            &self.pg_ctl,
            &self.stop_args(),
        )
        .await?;
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }

    fn stop_args(&self) -> Vec<&OsStr> {
        vec![
            "stop".as_ref(),
            "--silent".as_ref(),
            "--wait".as_ref(),
            "--mode=fast".as_ref(),
            "-D".as_ref(),
            self.pgdata().as_os_str(),
        ]
    }

    fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// Makes the cluster's directory the server user's, mode 0700 — only a real directory,
    /// never through a link.
    fn prepare_root(&self) -> Result<(), EmbeddedError> {
        let dir_error = |source| EmbeddedError::DataDir {
            dir: self.root.clone(),
            source,
        };
        match fs::symlink_metadata(&self.root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(EmbeddedError::UnsafeClusterPath {
                    path: self.root.clone(),
                });
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir(&self.root).map_err(dir_error)?;
            }
            Err(error) => return Err(dir_error(error)),
        }
        if let Some(user) = &self.server_user {
            std::os::unix::fs::lchown(&self.root, Some(user.uid), Some(user.gid))
                .map_err(dir_error)?;
        }
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700)).map_err(dir_error)
    }

    async fn initdb(&self) -> Result<(), EmbeddedError> {
        let initdb = self
            .pg_ctl
            .parent()
            .map(|dir| dir.join("initdb"))
            .unwrap_or_else(|| PathBuf::from("initdb"));
        let pgdata = self.pgdata();
        // initdb runs as the server's user and reads the superuser's password from a file:
        // one only that user can read, removed right after.
        let password_file = self.root.join("initdb-password");
        self.write_owned(&password_file, &self.superuser_password)?;
        let password_arg = format!("--pwfile={}", password_file.display());
        let args = |locale: &'static str| -> Vec<&OsStr> {
            vec![
                "--pgdata".as_ref(),
                pgdata.as_os_str(),
                "--username".as_ref(),
                SUPERUSER.as_ref(),
                "--auth=scram-sha-256".as_ref(),
                password_arg.as_ref(),
                "--encoding=UTF8".as_ref(),
                locale.as_ref(),
                "--no-instructions".as_ref(),
            ]
        };
        tracing::info!(cluster = %pgdata.display(), "creating the embedded PostgreSQL cluster");
        // C.UTF-8 gives Unicode-aware lower()/upper(); systems without it get plain C.
        let mut created = self.run("initdb", &initdb, &args("--locale=C.UTF-8")).await;
        if created.is_err() {
            let _ = fs::remove_dir_all(pgdata);
            created = self.run("initdb", &initdb, &args("--locale=C")).await;
        }
        let _ = fs::remove_file(&password_file);
        created?;
        let conf = pgdata.join("postgresql.conf");
        let mut file = OpenOptions::new()
            .append(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&conf)
            .map_err(|source| EmbeddedError::DataDir {
                dir: conf.clone(),
                source,
            })?;
        writeln!(
            file,
            "\n# Gazette rewrites gazette.conf at every start.\ninclude_if_exists = 'gazette.conf'"
        )
        .map_err(|source| EmbeddedError::DataDir { dir: conf, source })
    }

    /// Settings that depend on where the cluster is now, rewritten at every start.
    fn write_settings(&self, options: &EmbeddedOptions) -> Result<(), EmbeddedError> {
        let mut settings = format!(
            "# Written by gazette at every start; put your own settings in postgresql.conf.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '\"{}\"'\n\
             unix_socket_permissions = 0700\n\
             password_encryption = 'scram-sha-256'\n\
             max_connections = {}\n",
            self.root.display(),
            options.max_connections()
        );
        if !options.durable {
            settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        if options.statement_statistics {
            settings.push_str("shared_preload_libraries = 'pg_stat_statements'\n");
        }
        self.write_owned(&self.pgdata().join("gazette.conf"), &settings)
    }

    /// `pg_hba.conf`: local socket connections only, with passwords.
    fn write_access(&self, access: Access) -> Result<(), EmbeddedError> {
        let mut rules = String::from(
            "# Written by gazette at every start: Unix-socket connections only, with passwords.\n",
        );
        if access == Access::Bootstrap {
            rules.push_str(&format!("local all {SUPERUSER} trust\n"));
        }
        rules.push_str("local all all scram-sha-256\n");
        self.write_owned(&self.pgdata().join("pg_hba.conf"), &rules)
    }

    /// Replaces `path` (in a directory the server's user owns) with a file of `contents`
    /// that the server's user owns and only it can read. The old file is removed first and
    /// the new one created exclusively, so a link planted there is never followed.
    fn write_owned(&self, path: &Path, contents: &str) -> Result<(), EmbeddedError> {
        let dir_error = |source| EmbeddedError::DataDir {
            dir: path.to_owned(),
            source,
        };
        match fs::remove_file(path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(dir_error(error));
            }
            _ => {}
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(dir_error)?;
        file.write_all(contents.as_bytes()).map_err(dir_error)?;
        if let Some(user) = &self.server_user {
            std::os::unix::fs::fchown(&file, Some(user.uid), Some(user.gid)).map_err(dir_error)?;
        }
        Ok(())
    }

    /// Gives the superuser the password of our file (a cluster made before gazette kept
    /// passwords), connecting the one time without one.
    async fn set_superuser_password(&self) -> Result<(), EmbeddedError> {
        let bootstrap = |detail: String| EmbeddedError::Bootstrap {
            dir: self.root.clone(),
            detail,
        };
        let options = PgConnectOptions::new()
            .socket(&self.root)
            .username(SUPERUSER)
            .database("postgres");
        let mut connection = PgConnection::connect_with(&options)
            .await
            .map_err(|error| bootstrap(error.to_string()))?;
        set_role_password(&mut connection, SUPERUSER, &self.superuser_password, "")
            .await
            .map_err(|error| bootstrap(error.to_string()))?;
        connection
            .close()
            .await
            .map_err(|error| bootstrap(error.to_string()))?;
        tracing::warn!(
            "the embedded cluster's superuser now has a password (kept in the data directory); trust authentication is gone"
        );
        Ok(())
    }

    /// Makes the server read its configuration files again.
    async fn reload(&self) -> Result<(), EmbeddedError> {
        self.run(
            "reloading the embedded PostgreSQL server's configuration",
            &self.pg_ctl,
            &[
                "reload".as_ref(),
                "--silent".as_ref(),
                "-D".as_ref(),
                self.pgdata().as_os_str(),
            ],
        )
        .await?;
        // pg_ctl returns once the signal is sent; the postmaster needs a moment.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        Ok(())
    }

    async fn is_running(&self) -> Result<bool, EmbeddedError> {
        if !self.pgdata().join("postmaster.pid").exists() {
            return Ok(false);
        }
        let status = self
            .command(&self.pg_ctl)
            .args(["status".as_ref(), "-D".as_ref(), self.pgdata().as_os_str()])
            .output()
            .await
            .map_err(|error| EmbeddedError::Command {
                step: "pg_ctl status",
                detail: error.to_string(),
            })?;
        Ok(status.status.success())
    }

    fn command(&self, program: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command
            .current_dir(&self.root)
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGPASSWORD")
            .stdin(std::process::Stdio::null());
        if let Some(user) = &self.server_user {
            command.uid(user.uid).gid(user.gid);
        }
        command
    }

    async fn run(
        &self,
        step: &'static str,
        program: &Path,
        args: &[&OsStr],
    ) -> Result<(), EmbeddedError> {
        let output = self
            .command(program)
            .args(args)
            .output()
            .await
            .map_err(|error| EmbeddedError::Command {
                step,
                detail: format!("cannot run {}: {error}", program.display()),
            })?;
        if output.status.success() {
            return Ok(());
        }
        let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        if let Some(user) = &self.server_user {
            detail.push_str(&format!(" (run as user {})", user.name));
        }
        Err(EmbeddedError::Command { step, detail })
    }
}

/// `ALTER ROLE … PASSWORD …` (or `CREATE ROLE` when `create` holds its options), quoted by
/// the server itself: DDL takes no bind parameters.
pub(crate) async fn set_role_password(
    connection: &mut PgConnection,
    role: &str,
    password: &str,
    create: &str,
) -> Result<(), sqlx::Error> {
    let template = if create.is_empty() {
        "alter role %I password %L".to_owned()
    } else {
        format!("create role %I {create} password %L")
    };
    let statement: String = sqlx::query_scalar("select format($1, $2::text, $3::text)")
        .bind(template)
        .bind(role)
        .bind(password)
        .fetch_one(&mut *connection)
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(connection)
        .await?;
    Ok(())
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if self.lock.is_none() || !self.running {
            return;
        }
        let mut command = std::process::Command::new(&self.pg_ctl);
        command
            .args(self.stop_args())
            .current_dir(&self.root)
            .stdin(std::process::Stdio::null());
        if let Some(user) = &self.server_user {
            std::os::unix::process::CommandExt::uid(&mut command, user.uid);
            std::os::unix::process::CommandExt::gid(&mut command, user.gid);
        }
        if let Err(error) = command.status() {
            tracing::error!(%error, "could not stop the embedded PostgreSQL server");
        }
    }
}

fn prepare_data_dir(dir: &Path) -> Result<PathBuf, EmbeddedError> {
    let dir_error = |source| EmbeddedError::DataDir {
        dir: dir.to_owned(),
        source,
    };
    // pg_ctl hands paths to /bin/sh inside double quotes.
    let absolute = std::path::absolute(dir).map_err(dir_error)?;
    if let Some(character) = absolute
        .to_string_lossy()
        .chars()
        .find(|c| matches!(c, '"' | '\'' | '$' | '`' | '\\' | '\n'))
    {
        return Err(EmbeddedError::UnsupportedPath {
            dir: absolute,
            character,
        });
    }
    fs::create_dir_all(dir).map_err(dir_error)?;
    dir.canonicalize().map_err(dir_error)
}

enum DataDirLock {
    Acquired(File),
    HeldBy(String),
}

fn lock_data_dir(data_dir: &Path) -> Result<DataDirLock, EmbeddedError> {
    let path = data_dir.join("gazette.lock");
    let lock_error = |source| EmbeddedError::DataDir {
        dir: data_dir.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(lock_error)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(lock_error)?;
            file.rewind().map_err(lock_error)?;
            write!(file, "{}", std::process::id()).map_err(lock_error)?;
            Ok(DataDirLock::Acquired(file))
        }
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let holder = match pid.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            Ok(DataDirLock::HeldBy(holder))
        }
        Err(TryLockError::Error(source)) => Err(lock_error(source)),
    }
}

/// Finds the directory holding `initdb`, `pg_ctl` and `postgres`; returns `pg_ctl`'s path.
fn find_binaries(explicit: Option<&Path>) -> Result<PathBuf, EmbeddedError> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(dir) => vec![dir.to_owned()],
        None => std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(versioned_dirs(Path::new("/usr/lib/postgresql"), "", "bin"))
            .chain(versioned_dirs(Path::new("/usr"), "pgsql-", "bin"))
            .collect(),
    };
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|name| dir.join(name).is_file())
    };
    candidates
        .iter()
        .find(|dir| has_all(dir))
        .map(|dir| dir.join("pg_ctl"))
        .ok_or_else(|| EmbeddedError::BinariesNotFound {
            searched: match explicit {
                Some(dir) => format!("in {}", dir.display()),
                None => "on PATH or under /usr/lib/postgresql/*/bin".to_owned(),
            },
        })
}

/// `<parent>/<prefix><version>/<leaf>` for every numeric version, newest first.
fn versioned_dirs(parent: &Path, prefix: &str, leaf: &str) -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = name.to_str()?.strip_prefix(prefix)?.parse::<u32>().ok()?;
            Some((version, entry.path().join(leaf)))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// PostgreSQL refuses to run as root: then we run it as `postgres`, a system account that
/// exists for it alone, created when missing. Never `nobody`, which other daemons share:
/// every process of the server's user can reach the cluster's files.
async fn server_user() -> Result<Option<ServerUser>, EmbeddedError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let lookup = || {
        nix::unistd::User::from_name(SERVER_USER)
            .ok()
            .flatten()
            .map(|user| ServerUser {
                name: user.name,
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
    };
    if let Some(user) = lookup() {
        return Ok(Some(user));
    }
    tracing::warn!("creating the `{SERVER_USER}` system user to run the embedded PostgreSQL");
    let created = tokio::process::Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "PostgreSQL server (gazette)",
            SERVER_USER,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let detail = match created {
        Ok(output) if output.status.success() => String::new(),
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(error) => format!("cannot run useradd: {error}"),
    };
    // Another process may have created it meanwhile: look again either way.
    lookup()
        .map(Some)
        .ok_or(EmbeddedError::NoServerUser { detail })
}

/// Where root's clusters go when the data directory is out of the server user's reach,
/// for this data directory: `/var/lib/gazette/<hash>`.
fn fallback_root(data_dir: &Path) -> PathBuf {
    let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    Path::new(ROOT_FALLBACK_DIR).join(&hex::encode(digest)[..16])
}

/// The cluster's directory if one exists: `<data dir>/postgres`, or the fallback it links
/// to. A link anywhere else is refused, never followed: gazette changes the owner of the
/// cluster's directory, and must not be tricked into doing so to another one.
fn existing_cluster_root(data_dir: &Path) -> Result<Option<PathBuf>, EmbeddedError> {
    let preferred = data_dir.join("postgres");
    let meta = match fs::symlink_metadata(&preferred) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(EmbeddedError::DataDir {
                dir: preferred,
                source,
            });
        }
    };
    if meta.is_dir() {
        return Ok(Some(preferred));
    }
    let fallback = fallback_root(data_dir);
    let points_to_fallback = meta.file_type().is_symlink()
        && fs::read_link(&preferred).is_ok_and(|target| target == fallback);
    if !points_to_fallback || !is_safe_fallback(&fallback)? {
        return Err(EmbeddedError::UnsafeClusterPath { path: preferred });
    }
    Ok(Some(fallback))
}

/// Whether the fallback directory (and `/var/lib/gazette` above it) are real directories
/// that only root could have made: no links, not writable by others. A missing fallback is
/// safe to create.
fn is_safe_fallback(fallback: &Path) -> Result<bool, EmbeddedError> {
    let parent = Path::new(ROOT_FALLBACK_DIR);
    for (dir, may_be_missing) in [(parent, false), (fallback, true)] {
        match fs::symlink_metadata(dir) {
            Ok(meta) => {
                let root_owned = meta.uid() == 0 || dir == fallback;
                if !meta.is_dir() || !root_owned || (dir == parent && meta.mode() & 0o022 != 0) {
                    return Ok(false);
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && may_be_missing => {}
            Err(source) => {
                return Err(EmbeddedError::DataDir {
                    dir: dir.to_owned(),
                    source,
                });
            }
        }
    }
    Ok(true)
}

/// `<data dir>/postgres`, unless the server's user cannot reach it or the socket path would
/// be too long: then (as root) a directory under /var/lib/gazette, linked from
/// `<data dir>/postgres` so it is easy to find.
fn choose_cluster_root(
    data_dir: &Path,
    user: Option<&ServerUser>,
) -> Result<PathBuf, EmbeddedError> {
    let socket_fits = |root: &Path| root.join(SOCKET_NAME).as_os_str().len() <= SOCKET_PATH_MAX;
    if let Some(root) = existing_cluster_root(data_dir)? {
        return if socket_fits(&root) {
            Ok(root)
        } else {
            Err(EmbeddedError::PathTooLong {
                dir: data_dir.to_owned(),
            })
        };
    }
    let preferred = data_dir.join("postgres");
    let reachable = user.is_none_or(|user| reachable_by(data_dir, user));
    if socket_fits(&preferred) && reachable {
        return Ok(preferred);
    }
    let Some(user) = user else {
        return Err(EmbeddedError::PathTooLong {
            dir: data_dir.to_owned(),
        });
    };
    let fallback = fallback_root(data_dir);
    let link_error = |source| EmbeddedError::DataDir {
        dir: data_dir.to_owned(),
        source,
    };
    fs::create_dir_all(ROOT_FALLBACK_DIR).map_err(link_error)?;
    if !is_safe_fallback(&fallback)? {
        return Err(EmbeddedError::UnsafeClusterPath { path: fallback });
    }
    std::os::unix::fs::symlink(&fallback, &preferred).map_err(link_error)?;
    tracing::warn!(
        cluster = %fallback.display(),
        user = %user.name,
        "the PostgreSQL user cannot reach the data directory (or its socket path is too long); the cluster lives in {} instead, linked from {}",
        fallback.display(),
        preferred.display()
    );
    Ok(fallback)
}

/// A password from its file in the data directory, if there is one.
fn read_password(path: &Path) -> Result<Option<String>, EmbeddedError> {
    match fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EmbeddedError::DataDir {
            dir: path.to_owned(),
            source,
        }),
    }
}

/// The password in `path`, or a new random one saved there (mode 0600, owned by whoever
/// runs gazette); true when it is new.
fn load_or_create_password(path: &Path) -> Result<(String, bool), EmbeddedError> {
    let file_error = |source| EmbeddedError::DataDir {
        dir: path.to_owned(),
        source,
    };
    if let Some(password) = read_password(path)? {
        // Keep it private even if someone loosened it.
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(file_error)?;
        return Ok((password, false));
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|error| file_error(std::io::Error::other(format!("no random bytes: {error}"))))?;
    let password = hex::encode(bytes);
    let _ = fs::remove_file(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(file_error)?;
    writeln!(file, "{password}").map_err(file_error)?;
    file.sync_all().map_err(file_error)?;
    Ok((password, true))
}

/// Whether `user` may traverse every directory down to and including `dir`.
fn reachable_by(dir: &Path, user: &ServerUser) -> bool {
    dir.ancestors().all(|ancestor| {
        let Ok(meta) = fs::metadata(ancestor) else {
            return false;
        };
        let mode = meta.permissions().mode();
        if meta.uid() == user.uid {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    })
}

fn log_tail(log: &Path) -> String {
    let Ok(text) = fs::read_to_string(log) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join("\n");
    format!("\nlast lines of {}:\n{tail}", log.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_name_what_to_install() {
        let empty = tempfile::tempdir().expect("temp dir");
        let error = find_binaries(Some(empty.path())).expect_err("no binaries there");
        let message = error.to_string();
        assert!(
            message.contains("install the PostgreSQL server package"),
            "{message}"
        );
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(
            message.contains(&empty.path().display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn versioned_dirs_sort_newest_first() {
        let parent = tempfile::tempdir().expect("temp dir");
        for version in ["9", "15", "13", "notes"] {
            fs::create_dir(parent.path().join(version)).expect("create");
        }
        let found = versioned_dirs(parent.path(), "", "bin");
        let names: Vec<_> = found
            .iter()
            .map(|dir| {
                dir.parent()
                    .and_then(Path::file_name)
                    .and_then(OsStr::to_str)
            })
            .collect();
        assert_eq!(names, [Some("15"), Some("13"), Some("9")]);
    }

    #[test]
    fn a_held_lock_is_reported_with_the_holder_pid() {
        let dir = tempfile::tempdir().expect("temp dir");
        let DataDirLock::Acquired(_held) = lock_data_dir(dir.path()).expect("first lock") else {
            panic!("the first lock must succeed");
        };
        match lock_data_dir(dir.path()).expect("second attempt") {
            DataDirLock::HeldBy(holder) => {
                assert_eq!(holder, format!(" (pid {})", std::process::id()));
            }
            DataDirLock::Acquired(_) => panic!("a held lock must not be acquired twice"),
        }
    }

    #[test]
    fn paths_the_shell_would_mangle_are_refused() {
        let parent = tempfile::tempdir().expect("temp dir");
        let error = prepare_data_dir(&parent.path().join("a$b")).expect_err("refused");
        assert!(matches!(
            error,
            EmbeddedError::UnsupportedPath { character: '$', .. }
        ));
    }
}
