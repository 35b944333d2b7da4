//! `/metrics`, scraped and parsed as Prometheus reads it.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use super::app::http_client;

/// A sample's labels, as `(name, value)` pairs.
pub type Labels = Vec<(String, String)>;

/// One scrape, parsed: each sample with its labels.
#[derive(Debug)]
pub struct Scrape {
    pub samples: Vec<(String, Labels, f64)>,
    /// Families declared by `# TYPE`.
    pub families: BTreeSet<String>,
    pub text: String,
}

impl Scrape {
    pub async fn of(url: &str) -> Self {
        let response = http_client().get(url).send().await.expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        Self::parse(&response.text().await.expect("text"))
    }

    fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        let mut families = BTreeSet::new();
        for line in text.lines() {
            if let Some(declared) = line.strip_prefix("# TYPE ") {
                let name = declared.split_whitespace().next().expect("a family name");
                families.insert(name.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => {
                    let labels = labels.trim_end_matches('}');
                    let pairs = labels
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                            (key.to_owned(), value.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), pairs)
                }
                None => (series.to_owned(), Vec::new()),
            };
            samples.push((name, labels, value));
        }
        Self {
            samples,
            families,
            text: text.to_owned(),
        }
    }

    /// The sum of the samples of `name` whose labels include all of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).sum()
    }

    /// Whether the sum of `name` with `labels` is larger here than in `earlier`: its event
    /// happened between the two scrapes.
    pub fn grew_since(&self, earlier: &Scrape, name: &str, labels: &[(&str, &str)]) -> bool {
        self.sum(name, labels) > earlier.sum(name, labels)
    }

    /// Whether a sample of `name` with `labels` is there at all.
    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.matching(name, labels).next().is_some()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = f64> + 'a {
        self.samples
            .iter()
            .filter(move |(sample, found, _)| {
                sample == name
                    && labels.iter().all(|(key, value)| {
                        found.iter().any(|(found_key, found_value)| {
                            found_key == key && found_value == value
                        })
                    })
            })
            .map(|(_, _, value)| *value)
    }
}
