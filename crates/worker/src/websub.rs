//! WebSub (W3C): after a feed changes, tell the hub, which pushes it to subscribers.

use std::time::Duration;

use crate::error::WorkerError;

/// Attempts per announcement; the waits between them double from one second.
const ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Pinger {
    client: reqwest::Client,
    hub: String,
}

impl Pinger {
    pub fn new(hub: String) -> Result<Self, WorkerError> {
        // reqwest leaves the choice of TLS provider to us: ring, the lighter one to build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(gazette_syndication::GENERATOR)
            .build()
            .map_err(|error| WorkerError::Hub(error.to_string()))?;
        Ok(Self { client, hub })
    }

    /// Announces each URL in the background, retrying with back-off; never blocks a run.
    pub fn announce(&self, feed_urls: Vec<String>) {
        for url in feed_urls {
            let pinger = self.clone();
            tokio::spawn(async move { pinger.ping(&url).await });
        }
    }

    async fn ping(&self, feed_url: &str) {
        let mut wait = FIRST_RETRY;
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .client
                .post(&self.hub)
                .form(&[("hub.mode", "publish"), ("hub.url", feed_url)])
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    ping_outcome("sent");
                    tracing::info!(feed = feed_url, hub = %self.hub, "announced to the WebSub hub");
                    return;
                }
                Ok(response) => {
                    ping_outcome("refused");
                    tracing::warn!(feed = feed_url, status = %response.status(), attempt, "the WebSub hub refused the announcement");
                }
                Err(error) => {
                    ping_outcome("unreachable");
                    tracing::warn!(feed = feed_url, %error, attempt, "cannot reach the WebSub hub");
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        ping_outcome("gave_up");
        tracing::error!(feed = feed_url, hub = %self.hub, "gave up announcing to the WebSub hub");
    }
}

/// Each attempt counts (sent, refused, unreachable), and a feed given up on once more.
fn ping_outcome(outcome: &str) {
    gazette_metrics::metrics()
        .websub_pings
        .with_label_values(&[outcome])
        .inc();
}
