use std::path::PathBuf;

/// Where Gazette's data lives and how to reach the database.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// A PostgreSQL URL; `None` starts the embedded cluster under `data_dir`.
    pub url: Option<String>,
    /// Read replicas of that server (`--database-read-url`), for reads that may lag it.
    pub read_urls: Vec<String>,
    /// Holds the embedded cluster (`postgres/`), the admin token and the process lock.
    pub data_dir: PathBuf,
    /// Where `initdb`, `pg_ctl` and `postgres` are; `None` searches the usual places.
    pub postgres_bin_dir: Option<PathBuf>,
    pub max_connections: u32,
    /// Longest a statement may run before PostgreSQL cancels it; zero for no limit.
    /// Migrations run without it.
    pub statement_timeout: std::time::Duration,
    /// Plan each prepared statement once per connection (PostgreSQL's `plan_cache_mode =
    /// force_generic_plan`) instead of again on every execution.
    pub generic_plans: bool,
    /// Statements reading post pages of one shape that run at once on each database;
    /// requests arriving meanwhile share the next (`0`: a statement per page).
    pub post_page_statements: usize,
}

impl DatabaseConfig {
    pub const DEFAULT_DATA_DIR: &'static str = ".gazette";
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
    pub const DEFAULT_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
    pub const DEFAULT_GENERIC_PLANS: bool = true;
    pub const DEFAULT_POST_PAGE_STATEMENTS: usize = 2;

    /// What every connection of the pools is started with.
    pub fn session(&self) -> Session {
        Session {
            statement_timeout: self.statement_timeout,
            generic_plans: self.generic_plans,
        }
    }
}

/// The settings each connection starts its session with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub statement_timeout: std::time::Duration,
    pub generic_plans: bool,
}

/// What the site says about itself, and where it lives: every link Gazette writes (feeds,
/// `Post.url`) is absolute, under `public_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteConfig {
    /// Absolute base URL without a trailing slash, e.g. `https://blog.example.gov`.
    pub public_url: String,
    pub title: String,
    pub description: String,
    /// BCP 47 language tag of the content, e.g. `en`.
    pub language: String,
}

impl SiteConfig {
    pub const DEFAULT_TITLE: &'static str = "Gazette";
    pub const DEFAULT_DESCRIPTION: &'static str = "Posts and public feedback";
    pub const DEFAULT_LANGUAGE: &'static str = "en";

    /// The absolute URL of a path on this site.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.public_url, path.trim_start_matches('/'))
    }

    /// Where a post is read.
    pub fn post_url(&self, slug: &str) -> String {
        self.url(&format!("posts/{slug}"))
    }
}

/// Hides the password of a database URL so it can go into messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            if credentials.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/gazette"),
            "postgres://app:***@db:5432/gazette"
        );
        assert_eq!(
            redact_url("postgres://app@db/gazette"),
            "postgres://app@db/gazette"
        );
        assert_eq!(redact_url("postgres://db/gazette"), "postgres://db/gazette");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
