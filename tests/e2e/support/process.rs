//! The `gazette` binary as a process of its own: started, waited for, stopped, its log read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::app::http_client;

/// A `gazette` command, isolated from the test runner's own settings.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gazette"));
    for (name, _) in std::env::vars() {
        if name == "DATABASE_URL" || name.starts_with("GAZETTE_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        // Quiet by default; a caller's own GAZETTE_LOG wins.
        .env("GAZETTE_LOG", "warn")
        // Many test processes at once would race for the default metrics address; the
        // tests of metrics give an address of their own.
        .env("GAZETTE_METRICS_LISTEN", "off")
        // Both read paths, compared on every query (see `TestApp::start`).
        .env("GAZETTE_GRAPHQL_COMPILED_READS", "verify")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `gazette` to completion (at most a minute).
pub async fn gazette(args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = command(args, env).output();
    tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("gazette finished within a minute")
        .expect("gazette ran")
}

/// A free loopback port (bound and released; the race with another process is accepted).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A loopback address on a [`free_port`], as `--listen` takes it: `127.0.0.1:41234`.
pub fn free_address() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// Sends SIGTERM and waits for the exit, at most `within`; returns how long it took.
pub async fn terminate(child: &mut Child, within: Duration) -> (ExitStatus, Duration) {
    let pid = child.id().expect("still running");
    let started = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(within, child.wait())
        .await
        .unwrap_or_else(|_| panic!("the process did not exit within {within:?} of SIGTERM"))
        .expect("wait");
    (status, started.elapsed())
}

/// [`terminate`], asserting that the process exited cleanly.
pub async fn terminate_cleanly(child: &mut Child, within: Duration) {
    let (status, _) = terminate(child, within).await;
    assert!(status.success(), "{status:?}");
}

/// Waits until `url` answers 200, at most `within`.
pub async fn until_ok(url: &str, within: Duration) -> Duration {
    let started = Instant::now();
    let client = http_client();
    loop {
        let ok = client
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|response| response.status() == StatusCode::OK);
        if ok {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{url} did not answer 200 within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `gazette` process whose log goes to a file (a full stderr pipe would stall it under
/// load) and whose stdout is drained, started once it says it is running.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

pub async fn start_process(args: &[&str], env: &[(&str, &str)], log: PathBuf) -> Process {
    start_command(command(args, env), log).await
}

/// [`start_process`] for a command the caller has prepared ([`command`]).
pub async fn start_command(mut command: Command, log: PathBuf) -> Process {
    let file = std::fs::File::create(&log).expect("log file");
    let mut child = command
        .env("GAZETTE_LOG", "info")
        .stderr(Stdio::from(file))
        .spawn()
        .expect("start gazette");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let running = tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line == "Gazette is running." {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        running,
        Ok(true),
        "gazette did not start: {}",
        read_log(&log)
    );
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Process { child, log }
}

impl Process {
    /// [`terminate`], asserting a clean exit (with the log, when it was not).
    pub async fn stop(&mut self, within: Duration) {
        let (status, _) = terminate(&mut self.child, within).await;
        assert!(status.success(), "{status:?}\n{}", read_log(&self.log));
    }
}

/// Spawns `command` with its log (at info) going to `log` and its stdout discarded, without
/// waiting for it to say it is running: for workers, whose log is what the test reads.
pub fn spawn_logged(mut command: Command, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("log file");
    command
        .env("GAZETTE_LOG", "info")
        .stderr(Stdio::from(file))
        .stdout(Stdio::null())
        .spawn()
        .expect("start gazette")
}

/// A `gazette` process on a free loopback port, with a data directory and a log of its own
/// (removed with it).
pub struct Server {
    pub process: Process,
    /// What `--listen` was given: `127.0.0.1:<port>`.
    pub listen: String,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub data: tempfile::TempDir,
    _logs: tempfile::TempDir,
}

/// A [`Server`]'s command, not yet started, for a test to change before it starts.
pub struct ServerCommand {
    pub command: Command,
    log: String,
    listen: String,
    data: tempfile::TempDir,
    logs: tempfile::TempDir,
}

impl Server {
    /// Starts `gazette <subcommand> --listen <a free address> --data-dir <a new directory>
    /// <args…>` with `env`, and waits until it says it is running.
    pub async fn start(subcommand: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::command(subcommand, args, env).start().await
    }

    /// What [`Server::start`] runs, to adjust first.
    pub fn command(subcommand: &str, args: &[&str], env: &[(&str, &str)]) -> ServerCommand {
        let data = tempfile::tempdir().expect("data dir");
        let logs = tempfile::tempdir().expect("logs");
        let listen = free_address();
        let data_arg = data.path().display().to_string();
        let mut all = vec![subcommand, "--listen", &listen, "--data-dir", &data_arg];
        all.extend_from_slice(args);
        ServerCommand {
            command: command(&all, env),
            log: format!("{subcommand}.log"),
            listen,
            data,
            logs,
        }
    }

    /// The server's address of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until `path` answers 200, at most `within`.
    pub async fn until_ok(&self, path: &str, within: Duration) -> Duration {
        until_ok(&self.url(path), within).await
    }

    /// [`Process::stop`], within 20 s.
    pub async fn stop(&mut self) {
        self.process.stop(Duration::from_secs(20)).await;
    }
}

impl ServerCommand {
    pub async fn start(self) -> Server {
        let process = start_command(self.command, self.logs.path().join(self.log)).await;
        Server {
            process,
            base: format!("http://{}", self.listen),
            listen: self.listen,
            data: self.data,
            _logs: self.logs,
        }
    }
}

/// `gazette serve` on the embedded cluster of a data directory, on a free port: one command
/// line, started again (or run to see it fail) as often as a scenario needs, each start
/// logging to a file of its own.
pub struct EmbeddedServe {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    args: Vec<String>,
    logs: tempfile::TempDir,
}

impl EmbeddedServe {
    /// `gazette serve --listen <a free address> --data-dir <data_dir> <args…>`.
    pub fn new(data_dir: &Path, args: &[&str]) -> Self {
        let listen = free_address();
        let mut all = vec![
            "serve".to_owned(),
            "--listen".to_owned(),
            listen.clone(),
            "--data-dir".to_owned(),
            data_dir.display().to_string(),
        ];
        all.extend(args.iter().map(|arg| (*arg).to_owned()));
        Self {
            base: format!("http://{listen}"),
            args: all,
            logs: tempfile::tempdir().expect("logs"),
        }
    }

    fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    /// Starts it (see [`start_process`]), its log in the file `log`.
    pub async fn start(&self, log: &str) -> Process {
        start_process(&self.args(), &[], self.logs.path().join(log)).await
    }

    /// Runs it to its end, which must be a failure that says `expected` on stderr.
    pub async fn fails_saying(&self, expected: &str) -> Output {
        let output = gazette(&self.args(), &[]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains(expected), "{stderr}");
        output
    }
}

/// What `log` holds so far; nothing when it cannot be read (a failure message's context).
pub fn read_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// How many lines `log` holds so far: where what happens next begins.
pub fn log_lines(log: &Path) -> usize {
    read_log(log).lines().count()
}

/// How many times a worker logged (as JSON, after the first `skip` lines of `log`) that it
/// regenerated each of `keys`.
pub fn feeds_rebuilt(log: &Path, skip: usize, keys: &[&str]) -> BTreeMap<String, u32> {
    let mut rebuilt = BTreeMap::new();
    for line in read_log(log).lines().skip(skip) {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if entry["fields"]["message"] != "feeds regenerated" {
            continue;
        }
        let changed = entry["fields"]["changed"].as_str().unwrap_or_default();
        for key in keys {
            if changed.contains(&format!("\"{key}\"")) {
                *rebuilt.entry((*key).to_owned()).or_default() += 1;
            }
        }
    }
    rebuilt
}

/// Each of `keys` was rebuilt exactly once.
pub fn assert_each_rebuilt_once(rebuilt: &BTreeMap<String, u32>, keys: &[&str]) {
    for key in keys {
        assert_eq!(
            rebuilt.get(*key),
            Some(&1),
            "{key} rebuilt once: {rebuilt:?}"
        );
    }
}
