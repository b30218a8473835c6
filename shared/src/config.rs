//! Configuration: one `Config::from_env()` picks the backend and everything else.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::{EmailAddress, FreeMailDomains};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// One machine: SQLite + change feed, folder blobs, file outbox.
    Local { data_dir: PathBuf },
    /// DynamoDB (+ streams), S3, SESv2.
    Aws {
        table: String,
        bucket: String,
        ses_configuration_set: Option<String>,
        /// `AWS_ENDPOINT_URL`, for the emulator in tests.
        endpoint_url: Option<String>,
    },
}

/// How the local change feed delivers records to a stream consumer (the local twin of
/// an event source mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    pub batch_size: usize,
    /// Deliveries of a failing record before it goes to the dead-letter table.
    pub max_attempts: u32,
    /// First retry delay; doubles on every further attempt.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub poll_interval: Duration,
    /// How often dead letters are delivered again (the sweeper; longer than a claim's
    /// lease is pointless to shorten below, since the lease must end first).
    pub redrive_interval: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            batch_size: 10,
            max_attempts: 5,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
            redrive_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub backend: Backend,
    pub addr: SocketAddr,
    /// Base URL for links in e-mails, without trailing slash.
    pub public_url: String,
    /// False when `public_url` is only derived from `APP_ADDR` (the local runtime then
    /// uses the address it actually bound, e.g. for port 0).
    pub public_url_explicit: bool,
    pub reviewers: Vec<EmailAddress>,
    /// Programme staff who may sign in to the staff console (`APP_STAFF`, comma-separated).
    pub staff: Vec<EmailAddress>,
    pub sender: EmailAddress,
    pub free_mail: FreeMailDomains,
    pub feed: FeedConfig,
    /// Keys that sign review links (`APP_REVIEW_SECRET`, comma-separated: the first
    /// signs, all verify). Empty in local mode means "a key generated into the data dir".
    pub review_secrets: Vec<String>,
    /// SSO signing keys (`APP_SSO_KEYS`: comma-separated `kid:64-hex-seed`, the first
    /// signs, all are published). Empty in local mode means "generated into the data dir".
    pub sso_keys: Vec<String>,
    /// Carbon statement signing keys (`APP_STATEMENT_KEYS`: comma-separated
    /// `kid:64-hex-seed[:YYYY-MM-DD]`; the first still valid signs, all are published).
    /// Empty in local mode means "generated into the data dir"; empty on AWS means the
    /// statement routes answer 503.
    pub statement_keys: Vec<String>,
    /// How long review links stay valid (`APP_REVIEW_LINK_TTL_HOURS`, default 7 days).
    pub review_link_ttl: chrono::Duration,
    /// Privacy rules of national figures and benchmarks (`APP_PRIVACY_MIN_FIRMS`,
    /// `APP_PRIVACY_MAX_TOP2_SHARE`; default 10 firms, 0.85).
    pub privacy: crate::national::privacy::Thresholds,
    /// Extra or newer emission-factor files (`APP_FACTORS_DIR`), loaded over the built-in library.
    pub factors_dir: Option<PathBuf>,
    /// Local OCR engine: `auto` (Tesseract when installed), `tesseract`, or `none` (`APP_OCR`).
    pub ocr: OcrChoice,
    /// `APP_DEV_MAILBOX`: `1` serves the local mailbox page (`/_dev/mailbox`) whatever the
    /// listening address, `0` never; unset means "only when listening on loopback".
    pub dev_mailbox: Option<bool>,
    /// `APP_SMTP_URL`: in local mode, e-mail goes to this SMTP server instead of the
    /// outbox folder (`smtps://user:pass@host:465`, `smtp://host:587?tls=required`).
    pub smtp_url: Option<String>,
    /// Crash points of the fault-injection suite; never read from the environment.
    pub faults: Option<std::sync::Arc<crate::faults::Faults>>,
}

/// A yes/no setting: `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`.
fn flag(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError(format!("{name} must be 1 or 0, not `{value}`"))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcrChoice {
    Auto,
    Tesseract,
    None,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_DATA_DIR: &str = ".ecosphere";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// `from_env` with the environment given as a function (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let require = |k: &str| var(k).ok_or_else(|| ConfigError(format!("{k} must be set when APP_BACKEND=aws")));
        let backend = match var("APP_BACKEND").as_deref().unwrap_or("local") {
            "local" => Backend::Local { data_dir: PathBuf::from(var("APP_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into())) },
            "aws" => Backend::Aws {
                table: require("APP_TABLE_NAME")?,
                bucket: require("APP_BUCKET")?,
                ses_configuration_set: var("APP_SES_CONFIGURATION_SET"),
                endpoint_url: var("AWS_ENDPOINT_URL"),
            },
            other => return Err(ConfigError(format!("APP_BACKEND must be `local` or `aws`, not `{other}`"))),
        };
        let addr_s = var("APP_ADDR").unwrap_or_else(|| DEFAULT_ADDR.into());
        let addr: SocketAddr = addr_s.parse().map_err(|_| ConfigError(format!("APP_ADDR `{addr_s}` is not host:port")))?;
        let public_url_explicit = var("APP_PUBLIC_URL").is_some();
        let public_url = var("APP_PUBLIC_URL").unwrap_or_else(|| format!("http://{addr}")).trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError("APP_PUBLIC_URL must start with http:// or https://".into()));
        }
        let reviewers = var("APP_REVIEWERS")
            .unwrap_or_else(|| "reviewer@ecosphere.local".into())
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| EmailAddress::parse(s).map_err(|e| ConfigError(format!("APP_REVIEWERS: `{s}`: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let staff = var("APP_STAFF")
            .unwrap_or_else(|| "staff@ecosphere.local".into())
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| EmailAddress::parse(s).map_err(|e| ConfigError(format!("APP_STAFF: `{s}`: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let sender_s = var("APP_SENDER").unwrap_or_else(|| "EcoSphere <service@ecosphere.local>".into());
        let sender = EmailAddress::parse(&sender_s).map_err(|e| ConfigError(format!("APP_SENDER: {e}")))?;
        let free_mail = match var("APP_FREEMAIL_DOMAINS_FILE") {
            Some(path) => FreeMailDomains::parse(
                &std::fs::read_to_string(&path).map_err(|e| ConfigError(format!("APP_FREEMAIL_DOMAINS_FILE {path}: {e}")))?,
            ),
            None => FreeMailDomains::builtin(),
        };
        let mut feed = FeedConfig::default();
        if let Some(v) = var("APP_FEED_MAX_ATTEMPTS") {
            feed.max_attempts = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| ConfigError("APP_FEED_MAX_ATTEMPTS must be ≥ 1".into()))?;
        }
        let review_secrets: Vec<String> =
            var("APP_REVIEW_SECRET").map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
        if review_secrets.iter().any(|s| s.len() < 32) {
            return Err(ConfigError("APP_REVIEW_SECRET: every key must be at least 32 characters".into()));
        }
        if review_secrets.is_empty() && matches!(backend, Backend::Aws { .. }) {
            return Err(ConfigError("APP_REVIEW_SECRET must be set when APP_BACKEND=aws".into()));
        }
        let sso_keys: Vec<String> =
            var("APP_SSO_KEYS").map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
        if sso_keys.is_empty() && matches!(backend, Backend::Aws { .. }) {
            return Err(ConfigError("APP_SSO_KEYS must be set when APP_BACKEND=aws".into()));
        }
        let statement_keys: Vec<String> =
            var("APP_STATEMENT_KEYS").map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
        for k in &statement_keys {
            crate::statement::sign::StatementKey::parse(k).map_err(|e| ConfigError(format!("APP_STATEMENT_KEYS: {e}")))?;
        }
        let ttl_hours: i64 = match var("APP_REVIEW_LINK_TTL_HOURS") {
            Some(v) => v.parse().ok().filter(|h| *h >= 1).ok_or_else(|| ConfigError("APP_REVIEW_LINK_TTL_HOURS must be a whole number ≥ 1".into()))?,
            None => 24 * 7,
        };
        let mut privacy = crate::national::privacy::Thresholds::default();
        if let Some(v) = var("APP_PRIVACY_MIN_FIRMS") {
            privacy.min_firms = v.parse().ok().filter(|n| *n >= 3).ok_or_else(|| ConfigError("APP_PRIVACY_MIN_FIRMS must be a whole number ≥ 3".into()))?;
        }
        if let Some(v) = var("APP_PRIVACY_MAX_TOP2_SHARE") {
            privacy.max_top2_share =
                v.parse().ok().filter(|x: &f64| *x > 0.0 && *x < 1.0).ok_or_else(|| ConfigError("APP_PRIVACY_MAX_TOP2_SHARE must be a number between 0 and 1".into()))?;
        }
        let dev_mailbox = var("APP_DEV_MAILBOX").map(|v| flag("APP_DEV_MAILBOX", &v)).transpose()?;
        let smtp_url = var("APP_SMTP_URL");
        if let Some(url) = &smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                // Not echoed: the URL may hold a password.
                return Err(ConfigError("APP_SMTP_URL must start with smtp:// or smtps://".into()));
            }
        }
        Ok(Self {
            backend,
            addr,
            public_url,
            public_url_explicit,
            reviewers,
            staff,
            sender,
            free_mail,
            feed,
            review_secrets,
            sso_keys,
            statement_keys,
            review_link_ttl: chrono::Duration::hours(ttl_hours),
            privacy,
            factors_dir: var("APP_FACTORS_DIR").map(PathBuf::from),
            ocr: match var("APP_OCR").as_deref().unwrap_or("auto") {
                "auto" => OcrChoice::Auto,
                "tesseract" => OcrChoice::Tesseract,
                "none" => OcrChoice::None,
                other => return Err(ConfigError(format!("APP_OCR must be `auto`, `tesseract` or `none`, not `{other}`"))),
            },
            dev_mailbox,
            smtp_url,
            faults: None,
        })
    }

    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_to_local() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.backend, Backend::Local { data_dir: ".ecosphere".into() });
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.reviewers.len(), 1);
    }

    #[test]
    fn aws_needs_table_and_bucket() {
        assert!(cfg(&[("APP_BACKEND", "aws")]).unwrap_err().0.contains("APP_TABLE_NAME"));
        let base = [("APP_BACKEND", "aws"), ("APP_TABLE_NAME", "t"), ("APP_BUCKET", "b"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")];
        assert!(cfg(&base).unwrap_err().0.contains("APP_REVIEW_SECRET"));
        let mut with_secret = base.to_vec();
        with_secret.push(("APP_REVIEW_SECRET", "0123456789abcdef0123456789abcdef"));
        assert!(cfg(&with_secret).unwrap_err().0.contains("APP_SSO_KEYS"));
        with_secret.push(("APP_SSO_KEYS", "k1:0000000000000000000000000000000000000000000000000000000000000001"));
        let c = cfg(&with_secret).unwrap();
        assert!(matches!(c.backend, Backend::Aws { ref endpoint_url, .. } if endpoint_url.as_deref() == Some("http://127.0.0.1:5000")));
    }

    #[test]
    fn bad_values_are_reported() {
        assert!(cfg(&[("APP_BACKEND", "gcp")]).is_err());
        assert!(cfg(&[("APP_ADDR", "nope")]).is_err());
        assert!(cfg(&[("APP_REVIEWERS", "a@b.com, not-an-email")]).unwrap_err().0.contains("not-an-email"));
        let c = cfg(&[("APP_REVIEWERS", "a@b.com, c@d.org"), ("APP_PUBLIC_URL", "https://eco.example.com/")]).unwrap();
        assert_eq!(c.reviewers.len(), 2);
        assert_eq!(c.public_url, "https://eco.example.com");
    }

    #[test]
    fn dev_mailbox_and_smtp_settings() {
        assert_eq!(cfg(&[]).unwrap().dev_mailbox, None);
        assert_eq!(cfg(&[("APP_DEV_MAILBOX", "1")]).unwrap().dev_mailbox, Some(true));
        assert_eq!(cfg(&[("APP_DEV_MAILBOX", "0")]).unwrap().dev_mailbox, Some(false));
        assert_eq!(cfg(&[("APP_DEV_MAILBOX", "")]).unwrap().dev_mailbox, None);
        assert!(cfg(&[("APP_DEV_MAILBOX", "maybe")]).unwrap_err().0.contains("APP_DEV_MAILBOX"));
        assert_eq!(cfg(&[]).unwrap().smtp_url, None);
        let c = cfg(&[("APP_SMTP_URL", "smtps://u:secret@mail.example.com:465")]).unwrap();
        assert_eq!(c.smtp_url.as_deref(), Some("smtps://u:secret@mail.example.com:465"));
        let e = cfg(&[("APP_SMTP_URL", "https://u:secret@mail.example.com")]).unwrap_err().0;
        assert!(e.contains("APP_SMTP_URL") && !e.contains("secret"), "{e}");
    }
}
