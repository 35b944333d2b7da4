//! Running the long-lived parts (API, worker) on an open database until shutdown.

use std::future::Future;

use anyhow::Context;
use gazette_api::ApiConfig;
use gazette_domain::EditTokenKey;
use gazette_domain::commenting::Commenting;
use gazette_store::Reads;
use gazette_worker::Worker;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::{MetricsListen, Settings};

/// Which parts to run.
#[derive(Debug)]
pub struct Services {
    /// Serve the API on this listener.
    pub api: Option<TcpListener>,
    pub worker: bool,
    /// Serve `/metrics` on this listener.
    pub metrics: Option<TcpListener>,
}

/// Runs the chosen services until `shutdown` completes, then stops them in order: the API
/// finishes in-flight requests, then the worker stops scheduling.
pub async fn run_services(
    reads: Reads,
    settings: &Settings,
    services: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = reads.primary().clone();
    reads.replicas().watch();
    // One signal, heard by each server.
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    if let Some(listener) = services.metrics {
        let scrape = gazette_api::metrics::Scrape {
            reads: reads.clone(),
            moderation_queue: services.api.is_some(),
        };
        let until = until_stopped();
        tokio::spawn(async move {
            if let Err(error) = gazette_api::metrics::serve(listener, scrape, until).await {
                tracing::error!(%error, "the metrics server failed");
            }
        });
    }
    let bound = match &services.api {
        Some(listener) => listener
            .local_addr()
            .context("reading the listening address")?,
        None => settings.listen,
    };
    let site = settings.site(bound);
    // One secret key for the API's edit and form tokens and for sealing webhook secrets,
    // which the worker opens to sign.
    let key = EditTokenKey::load_or_create(&settings.edit_token_key_file())?;
    let federation = settings.federation(&site)?;
    let worker = if services.worker {
        let mut config = settings.worker(site.clone());
        config.webhooks.key = Some(key.clone());
        config.federation = federation.clone();
        Some(Worker::start(pool.clone(), config).await?)
    } else {
        None
    };
    let served = match services.api {
        Some(listener) => {
            let edit_tokens = key;
            let config = ApiConfig {
                listen: bound,
                site,
                feed_items: settings.feed_items,
                websub_hub: settings.websub_hub.clone(),
                commenting: Commenting {
                    policy: settings.comment_policy(),
                    form: settings.comment_form(),
                    edit_tokens,
                },
                trusted_proxy_hops: settings.trusted_proxy_hops(),
                feed_recheck: std::time::Duration::from_secs(settings.feed_recheck_seconds),
                response_cache_ttl: settings.graphql_cache_ttl,
                response_cache_bytes: settings.graphql_cache_max_bytes,
                compiled_reads: settings.graphql_compiled_reads.into(),
                cors: settings.cors_origins.clone(),
                limits: settings.limits(),
                metrics_on_api: settings.metrics_listen == Some(MetricsListen::Api),
                moderation_session_lifetime: settings.moderation_session_lifetime,
                webhooks: settings.webhook_endpoints(),
                remote: federation
                    .as_ref()
                    .map(|federation| {
                        // The API fetches what inbound requests name; the worker delivers.
                        gazette_domain::federation::remote::Remote::new(
                            federation,
                            gazette_domain::outbound::Purpose::Inbound,
                        )
                    })
                    .transpose()
                    .context("building federation's HTTP client")?,
                federation,
            };
            gazette_api::serve(listener, reads, config, until_stopped())
                .await
                .context("the HTTP server failed")
        }
        None => {
            until_stopped().await;
            Ok(())
        }
    };
    if let Some(worker) = worker {
        worker.shutdown().await?;
    }
    served
}
