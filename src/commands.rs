//! What each subcommand does.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use gazette_store::synthetic::{self, SyntheticSite};
use gazette_store::tokens::{self, Role};
use gazette_store::{Access, Database, SiteConfig, authors};
use tokio::net::TcpListener;

use crate::cli::{Cli, Command, MetricsListen, RoleArg, Settings, TokenCommand};
use crate::seed;
use crate::services::{Services, run_services};

/// Runs the command the user asked for (`serve` when none).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings, true, true).await,
        Command::Api => serve(&settings, true, false).await,
        Command::Worker { once: false } => serve(&settings, false, true).await,
        Command::Worker { once: true } => worker_once(&settings).await,
        Command::Migrate => with_database(&settings, Access::Shared, async |_| Ok(())).await,
        Command::Token(command) => token(&settings, command).await,
        Command::BenchData(args) => bench_data(&settings, &args.site()).await,
        Command::Schema => {
            print!("{}", gazette_api::graphql::sdl());
            Ok(())
        }
        Command::Measure { channel } => measure(&channel),
        Command::Import { file, dry_run } => import(&settings, &file, dry_run).await,
        Command::Export { file } => export(&settings, file.as_deref()).await,
    }
}

async fn import(settings: &Settings, file: &std::path::Path, dry_run: bool) -> anyhow::Result<()> {
    use gazette_domain::import::{Format, ImportOptions, import_file};
    with_database(settings, Access::Shared, async move |database| {
        let progress = ImportProgress::new(file);
        let options = ImportOptions {
            dry_run,
            max_comment_depth: settings.comment_policy().max_depth,
        };
        let report = import_file(database.pool(), file, options, &|done| progress.show(done))
            .await;
        progress.finish();
        let report = report.with_context(|| file.display().to_string())?;
        let (format, records) = match report.format {
            Some(Format::Blogger) => ("Blogger export", "entries"),
            Some(Format::WordPress) => ("WordPress export (WXR)", "items"),
            None => ("export", "records"),
        };
        let verb = if dry_run { "would import" } else { "imported" };
        println!("{}: {format}", file.display());
        let ignored = match report.ignored {
            0 => String::new(),
            n => format!(", not content {n} (settings and template)"),
        };
        println!(
            "  {records}: {} in the file: {verb} {}, already present {}, skipped {}{ignored}, failed {}",
            report.records,
            report.records_imported(),
            report.records_present(),
            report.skipped.len(),
            report.failed_records,
        );
        println!(
            "  posts:    {verb} {}, already present {}",
            report.posts_imported, report.posts_present
        );
        println!(
            "  comments: {verb} {}, already present {}",
            report.comments_imported, report.comments_present
        );
        let lists = [
            ("imported as drafts", &report.drafts),
            ("skipped", &report.skipped),
            ("comments skipped", &report.skipped_comments),
            ("changed by the comment rules", &report.changed),
            ("failed", &report.failed),
            ("comments failed", &report.failed_comments),
        ];
        for (title, list) in lists {
            if list.is_empty() {
                continue;
            }
            println!("  {title}: {}", list.len());
            for (what, why) in list {
                println!("    {what}: {why}");
            }
        }
        if dry_run {
            println!("Dry run: nothing was changed.");
        }
        let failed = report.failed.len() + report.failed_comments.len();
        if failed > 0 {
            bail!(
                "{}: {failed} of its records and comments could not be imported (listed above); the rest was {}",
                file.display(),
                if dry_run { "checked" } else { "imported" }
            );
        }
        Ok(())
    })
    .await
}

async fn export(settings: &Settings, file: Option<&std::path::Path>) -> anyhow::Result<()> {
    use gazette_domain::export::export_site;
    let site = settings.site(settings.listen);
    let Some(file) = file else {
        let mut out = std::io::BufWriter::new(std::io::stdout());
        return with_database(settings, Access::Shared, async move |database| {
            let counts = export_site(database.pool(), &site, chrono::Utc::now(), &mut out).await?;
            report_export(&counts);
            Ok(())
        })
        .await;
    };
    // Written beside the target and renamed when whole and on disk: an interrupted export
    // leaves no half a file under the name. Readable by its owner only: it holds
    // commenters' emails.
    let mut partial_name = file.as_os_str().to_owned();
    partial_name.push(".partial");
    let partial = std::path::PathBuf::from(partial_name);
    let created = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?
    };
    let written = with_database(settings, Access::Shared, async |database| {
        let mut out = std::io::BufWriter::new(&created);
        let counts = export_site(database.pool(), &site, chrono::Utc::now(), &mut out).await?;
        drop(out);
        created
            .sync_all()
            .context("cannot write the export to disk")?;
        std::fs::rename(&partial, file).with_context(|| {
            format!("cannot rename {} to {}", partial.display(), file.display())
        })?;
        report_export(&counts);
        Ok(())
    })
    .await;
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

fn report_export(counts: &gazette_domain::export::ExportCounts) {
    eprintln!(
        "exported {} posts, {} comments, {} authors",
        counts.posts, counts.comments, counts.authors
    );
}

/// The import's progress on standard error: one line rewritten in place on a terminal,
/// plain lines (at most one every two seconds) otherwise.
struct ImportProgress {
    file_bytes: u64,
    started: std::time::Instant,
    terminal: bool,
    last_line: std::sync::Mutex<Option<std::time::Instant>>,
}

impl ImportProgress {
    fn new(file: &std::path::Path) -> Self {
        use std::io::IsTerminal;
        Self {
            file_bytes: std::fs::metadata(file).map_or(0, |metadata| metadata.len()),
            started: std::time::Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            last_line: std::sync::Mutex::new(None),
        }
    }

    fn show(&self, done: &gazette_domain::import::Progress) {
        let Ok(mut last_line) = self.last_line.lock() else {
            return;
        };
        let now = std::time::Instant::now();
        if !self.terminal && last_line.is_some_and(|last| now.duration_since(last).as_secs() < 2) {
            return;
        }
        *last_line = Some(now);
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let percent = (done.bytes_read * 100)
            .checked_div(self.file_bytes)
            .unwrap_or(100)
            .min(100);
        // The total is not known before the end; the share of the file read tells it.
        let estimated_total = (done.records as u64 * self.file_bytes)
            .checked_div(done.bytes_read)
            .unwrap_or(0)
            .max(done.records as u64);
        let line = format!(
            "importing: {} of about {estimated_total} records ({percent}% of the file), {:.0} records/s",
            done.records,
            done.records as f64 / seconds
        );
        if self.terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.terminal && self.last_line.lock().is_ok_and(|last| last.is_some()) {
            eprintln!();
        }
    }
}

/// Streams: a line in, a number out, so a long corpus needs no memory and a caller can
/// pair answers with questions by position.
fn measure(channel: &str) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};

    use gazette_syndication::social::{ChannelKind, measure, rules};

    let counting = rules(ChannelKind::from_name(channel)).counting;
    let mut output = std::io::BufWriter::new(std::io::stdout());
    for (index, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("reading standard input")?;
        let text: String = serde_json::from_str(&line)
            .with_context(|| format!("line {}: expected one JSON string", index + 1))?;
        writeln!(output, "{}", measure(counting, &text))?;
    }
    output.flush()?;
    Ok(())
}

async fn serve(settings: &Settings, api: bool, worker: bool) -> anyhow::Result<()> {
    // Settings that cannot work are refused before anything is bound or started; then a
    // taken port is the cheapest failure to report.
    check_database_settings(settings)?;
    let listener = match api {
        true => Some(bind(settings.listen).await?),
        false => None,
    };
    let metrics = bind_metrics(settings.metrics_listen, api).await?;
    let shutdown = shutdown_signal()?;
    let mut config = settings.database();
    if !api {
        // The worker reads what it rebuilds from the primary: replicas would only cost it
        // connections.
        config.read_urls.clear();
    }
    open_database(settings, config, Access::Exclusive, async move |database| {
        if api {
            seed::first_run(database.pool(), &settings.data_dir, settings.seed).await?;
        }
        if let Some(listener) = &listener {
            print_urls(&settings.site(listener.local_addr()?));
        }
        if let Some(metrics) = &metrics {
            let address = metrics.local_addr()?;
            match api {
                true => println!("  Metrics (Prometheus) http://{address}/metrics"),
                false => tracing::info!(%address, "serving /metrics"),
            }
        }
        let services = Services {
            api: listener,
            worker,
            metrics,
        };
        run_services(database.reads(), settings, services, shutdown).await
    })
    .await
}

/// The listener of `/metrics` on an address of its own, if there is to be one. The default
/// address being taken (another gazette on this machine has it) is a warning, not a
/// failure; an address the operator chose must be had.
async fn bind_metrics(
    chosen: Option<MetricsListen>,
    api: bool,
) -> anyhow::Result<Option<TcpListener>> {
    match chosen {
        None => match TcpListener::bind(MetricsListen::DEFAULT).await {
            Ok(listener) => Ok(Some(listener)),
            Err(error) => {
                tracing::warn!(address = %MetricsListen::DEFAULT, %error, "not serving /metrics: its default address is taken (set --metrics-listen)");
                Ok(None)
            }
        },
        Some(MetricsListen::Address(address)) => {
            Ok(Some(TcpListener::bind(address).await.with_context(
                || format!("cannot serve metrics on {address} (--metrics-listen)"),
            )?))
        }
        Some(MetricsListen::Api) if !api => {
            bail!(
                "`--metrics-listen api` needs the API, and `gazette worker` has none: give the worker an address of its own"
            )
        }
        Some(MetricsListen::Api | MetricsListen::Off) => Ok(None),
    }
}

async fn worker_once(settings: &Settings) -> anyhow::Result<()> {
    with_database(settings, Access::Shared, async move |database| {
        let site = settings.site(settings.listen);
        gazette_worker::run_all(database.pool(), &settings.worker(site)).await?;
        Ok(())
    })
    .await
}

async fn bench_data(settings: &Settings, site: &SyntheticSite) -> anyhow::Result<()> {
    with_database(settings, Access::Shared, async move |database| {
        let started = std::time::Instant::now();
        let counts = synthetic::generate(database.pool(), site).await?;
        eprintln!(
            "Generated {} posts and {} comments in {:.1} s.",
            counts.posts,
            counts.comments,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })
    .await
}

async fn token(settings: &Settings, command: TokenCommand) -> anyhow::Result<()> {
    with_database(settings, Access::Shared, async move |database| {
        let pool = database.pool();
        match command {
            TokenCommand::Create { name, role } => {
                let name = name.trim();
                if name.is_empty() || name.chars().count() > 200 {
                    bail!("the token's --name must have 1 to 200 characters");
                }
                let role = match role {
                    RoleArg::Admin => Role::Admin,
                    RoleArg::Author => Role::Author,
                };
                let mut tx = pool.begin().await?;
                let slug = gazette_content::slugify(name, 200, "author");
                let author = authors::find_or_create(&mut tx, &slug, name).await?;
                let (token, secret) = tokens::create(&mut *tx, author.id, name, role).await?;
                tx.commit().await?;
                println!("{secret}");
                eprintln!(
                    "Created {} token {} for {} (author {}). It is shown only this once: store it now.",
                    role.as_str(),
                    token.id,
                    author.name,
                    author.slug
                );
            }
            TokenCommand::Revoke { id } => {
                if !tokens::revoke(pool, id).await? {
                    bail!("there is no active token with id {id} (see `gazette token list`)");
                }
                eprintln!("Revoked token {id}.");
            }
            TokenCommand::List => {
                println!("{:>6}  {:<8}  {:<25}  {:<25}  {:<25}  name", "id", "role", "created", "last used", "revoked");
                let never = || "-".to_owned();
                // Whole seconds in UTC: 20 characters, so the columns line up.
                let listed = |at: chrono::DateTime<chrono::Utc>| {
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                };
                for token in tokens::list(pool).await? {
                    println!(
                        "{:>6}  {:<8}  {:<25}  {:<25}  {:<25}  {}",
                        token.id,
                        token.role.as_str(),
                        listed(token.created_at),
                        token.last_used_at.map_or_else(never, listed),
                        token.revoked_at.map_or_else(never, listed),
                        token.name
                    );
                }
            }
        }
        Ok(())
    })
    .await
}

/// Opens and migrates the database (the primary alone: one-off commands have no reads to
/// spread), runs `work`, and closes the database whatever happened (stopping the embedded
/// cluster this process started).
async fn with_database(
    settings: &Settings,
    access: Access,
    work: impl AsyncFnOnce(&Database) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut config = settings.database();
    config.read_urls.clear();
    open_database(settings, config, access, work).await
}

/// [`with_database`] on `config`, replicas included.
async fn open_database(
    settings: &Settings,
    config: gazette_store::DatabaseConfig,
    access: Access,
    work: impl AsyncFnOnce(&Database) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    check_database_settings(settings)?;
    let database = Database::open(&config, access).await?;
    let result = match database.migrate().await {
        Ok(()) => work(&database).await,
        Err(error) => Err(error.into()),
    };
    let closed = database.close().await;
    result?;
    closed?;
    Ok(())
}

/// Refused for every command, whichever uses the replicas.
fn check_database_settings(settings: &Settings) -> anyhow::Result<()> {
    let asked = settings.database();
    if asked.url.is_none() && !asked.read_urls.is_empty() {
        bail!(
            "--database-read-url needs DATABASE_URL: replicas follow a PostgreSQL server you run, and the embedded one has none"
        );
    }
    Ok(())
}

async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

fn print_urls(site: &SiteConfig) {
    println!("Gazette is running.");
    println!("  GraphiQL playground  {}", site.url("graphiql"));
    println!("  GraphQL endpoint     {}", site.url("graphql"));
    println!("  RSS feed             {}", site.url("feed.xml"));
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed by this call, not
/// when the future is first polled, so a signal that arrives while the services are still
/// starting is not lost (and does not kill the process before the cluster is stopped).
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down");
    })
}
