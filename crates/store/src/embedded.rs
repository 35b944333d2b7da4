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
//!   Unix socket (no TCP port to collide with) and `server.log`.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;

/// The cluster's superuser; local connections over the socket use trust authentication.
pub const SUPERUSER: &str = "gazette";
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
        "PostgreSQL refuses to run as root and there is no unprivileged `postgres` or `nobody` user to run it as; create a `postgres` user or set DATABASE_URL"
    )]
    NoServerUser,

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
}

impl EmbeddedOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            bin_dir: None,
            durable: true,
            statement_statistics: false,
        }
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
                let root = existing_cluster_root(&data_dir);
                let attached = Self {
                    pgdata: root.join("data"),
                    root,
                    pg_ctl,
                    server_user: server_user()?,
                    lock: None,
                    running: false,
                };
                if attached.is_running().await? {
                    Ok(attached)
                } else {
                    Err(EmbeddedError::InUse {
                        dir: data_dir,
                        holder,
                    })
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
        let server_user = server_user()?;
        let root = choose_cluster_root(&data_dir, server_user.as_ref())?;
        let mut cluster = Self {
            pgdata: root.join("data"),
            root,
            pg_ctl,
            server_user,
            lock: Some(lock),
            running: false,
        };
        cluster.prepare_root()?;
        if !cluster.pgdata().join("PG_VERSION").is_file() {
            cluster.initdb().await?;
        }
        cluster.write_settings(options)?;
        if cluster.is_running().await? {
            // Left behind by a gazette process that was killed: we hold the lock now, so
            // it is ours to use and to stop.
            tracing::warn!(cluster = %cluster.root.display(), "adopting a PostgreSQL server left running by an earlier gazette process");
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
        tracing::info!(socket = %cluster.root.display(), "embedded PostgreSQL is running");
        Ok(cluster)
    }

    /// Connection options for `database` over the cluster's Unix socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.root)
            .username(SUPERUSER)
            .database(database)
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

    fn prepare_root(&self) -> Result<(), EmbeddedError> {
        let dir_error = |source| EmbeddedError::DataDir {
            dir: self.root.clone(),
            source,
        };
        fs::create_dir_all(&self.root).map_err(dir_error)?;
        if let Some(user) = &self.server_user {
            std::os::unix::fs::chown(&self.root, Some(user.uid), Some(user.gid))
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
        let args = |locale: &'static str| -> Vec<&OsStr> {
            vec![
                "--pgdata".as_ref(),
                pgdata.as_os_str(),
                "--username".as_ref(),
                SUPERUSER.as_ref(),
                "--auth=trust".as_ref(),
                "--encoding=UTF8".as_ref(),
                locale.as_ref(),
                "--no-instructions".as_ref(),
            ]
        };
        tracing::info!(cluster = %pgdata.display(), "creating the embedded PostgreSQL cluster");
        // C.UTF-8 gives Unicode-aware lower()/upper(); systems without it get plain C.
        let first = self.run("initdb", &initdb, &args("--locale=C.UTF-8")).await;
        if first.is_err() {
            let _ = fs::remove_dir_all(pgdata);
            self.run("initdb", &initdb, &args("--locale=C")).await?;
        }
        let conf = pgdata.join("postgresql.conf");
        let mut file = OpenOptions::new()
            .append(true)
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
        let path = self.pgdata().join("gazette.conf");
        let mut settings = format!(
            "# Written by gazette at every start; put your own settings in postgresql.conf.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '\"{}\"'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n",
            self.root.display()
        );
        if !options.durable {
            settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        if options.statement_statistics {
            settings.push_str("shared_preload_libraries = 'pg_stat_statements'\n");
        }
        let dir_error = |source| EmbeddedError::DataDir {
            dir: path.clone(),
            source,
        };
        fs::write(&path, settings).map_err(dir_error)?;
        if let Some(user) = &self.server_user {
            std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid)).map_err(dir_error)?;
        }
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

/// PostgreSQL refuses to run as root: then we run it as `postgres`, or `nobody` without one.
fn server_user() -> Result<Option<ServerUser>, EmbeddedError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .iter()
        .find_map(|name| nix::unistd::User::from_name(name).ok().flatten())
        .map(|user| {
            Some(ServerUser {
                name: user.name,
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
        })
        .ok_or(EmbeddedError::NoServerUser)
}

fn existing_cluster_root(data_dir: &Path) -> PathBuf {
    let preferred = data_dir.join("postgres");
    fs::read_link(&preferred).unwrap_or(preferred)
}

/// `<data dir>/postgres`, unless the server's user cannot reach it or the socket path would
/// be too long: then (as root) a directory under /var/lib/gazette, linked from
/// `<data dir>/postgres` so it is easy to find.
fn choose_cluster_root(
    data_dir: &Path,
    user: Option<&ServerUser>,
) -> Result<PathBuf, EmbeddedError> {
    let preferred = data_dir.join("postgres");
    if let Ok(target) = fs::read_link(&preferred) {
        return Ok(target);
    }
    let socket_fits = |root: &Path| root.join(SOCKET_NAME).as_os_str().len() <= SOCKET_PATH_MAX;
    let reachable = user.is_none_or(|user| reachable_by(data_dir, user));
    if preferred.is_dir() || (socket_fits(&preferred) && reachable) {
        return if socket_fits(&preferred) {
            Ok(preferred)
        } else {
            Err(EmbeddedError::PathTooLong {
                dir: data_dir.to_owned(),
            })
        };
    }
    let Some(user) = user else {
        return Err(EmbeddedError::PathTooLong {
            dir: data_dir.to_owned(),
        });
    };
    let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    let fallback = Path::new(ROOT_FALLBACK_DIR).join(&hex::encode(digest)[..16]);
    let link_error = |source| EmbeddedError::DataDir {
        dir: data_dir.to_owned(),
        source,
    };
    fs::create_dir_all(&fallback).map_err(link_error)?;
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
