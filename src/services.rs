//! Running the long-lived parts (API, worker) on an open database until shutdown.

use std::future::Future;

use anyhow::Context;
use gazette_api::ApiConfig;
use gazette_domain::EditTokenKey;
use gazette_domain::commenting::Commenting;
use gazette_store::PgPool;
use gazette_worker::Worker;
use tokio::net::TcpListener;

use crate::cli::Settings;

/// Which parts to run.
#[derive(Debug)]
pub struct Services {
    /// Serve the API on this listener.
    pub api: Option<TcpListener>,
    pub worker: bool,
}

/// Runs the chosen services until `shutdown` completes, then stops them in order: the API
/// finishes in-flight requests, then the worker stops scheduling.
pub async fn run_services(
    pool: PgPool,
    settings: &Settings,
    services: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = match &services.api {
        Some(listener) => listener
            .local_addr()
            .context("reading the listening address")?,
        None => settings.listen,
    };
    let site = settings.site(bound);
    let worker = if services.worker {
        Some(Worker::start(pool.clone(), settings.worker(site.clone())).await?)
    } else {
        None
    };
    let served = match services.api {
        Some(listener) => {
            let key_file = settings.edit_token_key_file();
            let edit_tokens = EditTokenKey::load_or_create(&key_file)?;
            let config = ApiConfig {
                listen: bound,
                site,
                feed_items: settings.feed_items,
                websub_hub: settings.websub_hub.clone(),
                commenting: Commenting {
                    policy: settings.comment_policy(),
                    edit_tokens,
                },
                trusted_proxy_hops: settings.trusted_proxy_hops(),
                feed_recheck: std::time::Duration::from_secs(settings.feed_recheck_seconds),
                response_cache_ttl: settings.graphql_cache_ttl,
                cors: settings.cors_origins.clone(),
                limits: settings.limits(),
            };
            gazette_api::serve(listener, pool, config, shutdown)
                .await
                .context("the HTTP server failed")
        }
        None => {
            shutdown.await;
            Ok(())
        }
    };
    if let Some(worker) = worker {
        worker.shutdown().await?;
    }
    served
}
