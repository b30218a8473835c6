//! Wiring: the adapters chosen by `Config`, and the services built on them.

use std::path::PathBuf;
use std::sync::Arc;

use crate::adapters::{
    self, DynamoApplicationStore, DynamoMemberStore, DynamoNotificationLog, DynamoTokenStore, FolderBlobStore, OutboxMailer, S3BlobStore, SesMailer,
    SqliteApplicationStore, SqliteDb, SqliteMemberStore, SqliteNotificationLog, SqliteTokenStore,
};
use crate::domain::ReviewSigner;
use crate::error::AppError;
use crate::config::{Backend, Config};
use crate::error::AppResult;
use crate::ports::{ApplicationStore, BlobStore, Clock, Mailer, MemberStore, NotificationLog, SystemClock, TokenStore};
use crate::services::portal::PortalService;
use crate::services::sso::{SsoKey, SsoService};
use crate::services::apply::ApplyService;
use crate::services::notify::NotifyService;
use crate::services::review::ReviewService;
use crate::services::ingest::IngestService;
use crate::services::calculate::CalculateService;
use crate::ports::{ActivityStore, TextExtractor};
use crate::factors::FactorLibrary;
use crate::statement::sign::StatementKey;

/// Where local mode keeps its data.
#[derive(Clone)]
pub struct LocalParts {
    pub db: SqliteDb,
    pub data_dir: PathBuf,
    pub database: PathBuf,
    pub outbox_dir: PathBuf,
    pub drop_dir: PathBuf,
    /// Where the drop watcher moves files it refuses, each with a `.reason.txt`.
    pub rejected_dir: PathBuf,
    pub blobs_dir: PathBuf,
}

impl LocalParts {
    pub fn open(data_dir: PathBuf) -> AppResult<Self> {
        let database = data_dir.join("ecosphere.sqlite3");
        let db = SqliteDb::open(&database)?;
        let parts = Self {
            db,
            outbox_dir: data_dir.join("outbox"),
            drop_dir: data_dir.join("drop"),
            rejected_dir: data_dir.join("drop-rejected"),
            blobs_dir: data_dir.join("blobs"),
            database,
            data_dir,
        };
        for d in [&parts.outbox_dir, &parts.drop_dir, &parts.blobs_dir] {
            std::fs::create_dir_all(d).map_err(|e| crate::error::AppError::internal(format!("create {}: {e}", d.display())))?;
        }
        Ok(parts)
    }
}

/// Everything a handler needs.
pub struct App {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub applications: Arc<dyn ApplicationStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub mailer: Arc<dyn Mailer>,
    pub notifications: Arc<dyn NotificationLog>,
    pub members: Arc<dyn MemberStore>,
    pub tokens: Arc<dyn TokenStore>,
    /// Present in local mode only.
    pub local: Option<LocalParts>,
    pub apply: ApplyService,
    pub review: ReviewService,
    pub notify: NotifyService,
    pub portal: PortalService,
    /// Programme staff sign-in (the staff console).
    pub staff: crate::services::staff::StaffService,
    pub sso: SsoService,
    pub activities: Arc<dyn ActivityStore>,
    pub extractor: Arc<dyn TextExtractor>,
    pub ingest: IngestService,
    pub calculate: CalculateService,
    pub statements: Arc<dyn crate::ports::StatementStore>,
    pub statement: crate::services::statement::StatementService,
    /// Firm profiles (公司資料維護).
    pub firms: crate::services::firms::FirmService,
    /// 行業對標 from the year's aggregates.
    pub benchmark: crate::services::benchmark::BenchmarkService,
    /// The key of the one CSRF scheme (derived from the first review-link key).
    pub csrf: crate::web::session::CsrfKey,
}

/// Signing keys kept in a file of the data dir, one encoded key a line: read when the
/// file holds valid keys, otherwise one key is generated and written (mode 0600).
fn local_keys<K>(path: &std::path::Path, parse: impl Fn(&str) -> Result<K, String>, generate: impl Fn() -> AppResult<K>, encode: impl Fn(&K) -> String) -> AppResult<Vec<K>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let keys: Result<Vec<K>, String> = text.lines().filter(|l| !l.trim().is_empty()).map(|l| parse(l.trim())).collect();
        if let Ok(keys) = keys {
            if !keys.is_empty() {
                return Ok(keys);
            }
        }
    }
    let key = generate()?;
    std::fs::write(path, format!("{}\n", encode(&key))).map_err(|e| AppError::internal(format!("write {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(vec![key])
}

/// The local SSO keys (`kid:seed` a line).
fn local_sso_keys(data_dir: &std::path::Path) -> AppResult<Vec<SsoKey>> {
    local_keys(&data_dir.join("sso-keys"), SsoKey::parse, SsoKey::generate, SsoKey::encode)
}

/// The local statement signing keys.
fn local_statement_keys(data_dir: &std::path::Path) -> AppResult<Vec<StatementKey>> {
    local_keys(&data_dir.join("statement-keys"), StatementKey::parse, StatementKey::generate, StatementKey::encode)
}

/// The local review-link key: generated once into the data dir, kept across restarts.
fn local_review_key(data_dir: &std::path::Path) -> AppResult<Vec<u8>> {
    let path = data_dir.join("review-link.key");
    if let Ok(hex) = std::fs::read_to_string(&path) {
        let hex = hex.trim();
        if hex.len() >= 64 {
            return Ok(hex.as_bytes().to_vec());
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(AppError::internal)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, &hex).map_err(|e| AppError::internal(format!("write {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(hex.into_bytes())
}

/// The AWS SDK's configuration; the fault-injection suite's plan, when set, sits in
/// front of its HTTP client (every SDK call is a crash point).
async fn sdk_for(config: &Config, endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let sdk = adapters::aws::sdk_config(endpoint_url).await;
    match &config.faults {
        Some(faults) => crate::faults::faulty_sdk_config(sdk, faults.clone()),
        None => sdk,
    }
}

impl App {
    pub async fn from_config(config: Config) -> AppResult<Arc<Self>> {
        Self::with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn with_clock(config: Config, clock: Arc<dyn Clock>) -> AppResult<Arc<Self>> {
        #[allow(clippy::type_complexity)]
        let (applications, blobs, mailer, notifications, members, tokens, local): (
            Arc<dyn ApplicationStore>,
            Arc<dyn BlobStore>,
            Arc<dyn Mailer>,
            Arc<dyn NotificationLog>,
            Arc<dyn MemberStore>,
            Arc<dyn TokenStore>,
            _,
        ) =
            match &config.backend {
                Backend::Local { data_dir } => {
                    let mut parts = LocalParts::open(data_dir.clone())?;
                    parts.db = parts.db.with_faults(config.faults.clone());
                    let mut blobs: Arc<dyn BlobStore> = Arc::new(FolderBlobStore::new(parts.blobs_dir.clone()));
                    let mut mailer: Arc<dyn Mailer> = match &config.smtp_url {
                        // A real office: e-mail to its SMTP server instead of the outbox folder.
                        Some(url) => Arc::new(adapters::SmtpMailer::from_url(url, config.sender.clone(), clock.clone())?),
                        None => Arc::new(OutboxMailer::new(parts.outbox_dir.clone(), config.sender.clone(), clock.clone())),
                    };
                    if let Some(faults) = &config.faults {
                        blobs = Arc::new(crate::faults::FaultyBlobs { inner: blobs, faults: faults.clone() });
                        mailer = Arc::new(crate::faults::FaultyMailer { inner: mailer, faults: faults.clone() });
                    }
                    (
                        Arc::new(SqliteApplicationStore::new(parts.db.clone())),
                        blobs,
                        mailer,
                        Arc::new(SqliteNotificationLog::new(parts.db.clone())),
                        Arc::new(SqliteMemberStore::new(parts.db.clone())),
                        Arc::new(SqliteTokenStore::new(parts.db.clone())),
                        Some(parts),
                    )
                }
                Backend::Aws { table, bucket, ses_configuration_set, endpoint_url } => {
                    let sdk = sdk_for(&config, endpoint_url.as_deref()).await;
                    (
                        Arc::new(DynamoApplicationStore::from_sdk(&sdk, table.clone())),
                        Arc::new(S3BlobStore::from_sdk(&sdk, bucket.clone(), endpoint_url.is_some())),
                        Arc::new(SesMailer::from_sdk(&sdk, config.sender.clone(), ses_configuration_set.clone(), clock.clone())),
                        Arc::new(DynamoNotificationLog::from_sdk(&sdk, table.clone())),
                        Arc::new(DynamoMemberStore::from_sdk(&sdk, table.clone())),
                        Arc::new(DynamoTokenStore::from_sdk(&sdk, table.clone())),
                        None,
                    )
                }
            };
        let apply = ApplyService::new(applications.clone(), clock.clone(), config.free_mail.clone());
        let keys: Vec<Vec<u8>> = match (&local, config.review_secrets.is_empty()) {
            (Some(parts), true) => vec![local_review_key(&parts.data_dir)?],
            _ => config.review_secrets.iter().map(|s| s.as_bytes().to_vec()).collect(),
        };
        let csrf = crate::web::session::CsrfKey::derive(keys.first().ok_or_else(|| AppError::internal("no review-link key"))?);
        let signer = ReviewSigner::new(keys).map_err(AppError::internal)?;
        let review = ReviewService::new(applications.clone(), signer, clock.clone());
        let notify = NotifyService::new(
            mailer.clone(),
            notifications.clone(),
            review.clone(),
            clock.clone(),
            config.reviewers.clone(),
            config.public_url.clone(),
            config.review_link_ttl,
        );
        let portal = PortalService::new(
            members.clone(),
            tokens.clone(),
            applications.clone(),
            mailer.clone(),
            clock.clone(),
            config.public_url.clone(),
        );
        let staff = crate::services::staff::StaffService::new(&config.staff, tokens.clone(), mailer.clone(), clock.clone(), config.public_url.clone());
        let sso_keys = match (&local, config.sso_keys.is_empty()) {
            (Some(parts), true) => local_sso_keys(&parts.data_dir)?,
            _ => config.sso_keys.iter().map(|k| SsoKey::parse(k)).collect::<Result<Vec<_>, _>>().map_err(AppError::internal)?,
        };
        let sso = SsoService::new(sso_keys, &config.public_url, applications.clone(), tokens.clone(), clock.clone());
        let (activities, extractor): (Arc<dyn ActivityStore>, Arc<dyn TextExtractor>) = match &config.backend {
            Backend::Local { .. } => {
                let db = local.as_ref().map(|p| p.db.clone()).ok_or_else(|| AppError::internal("local parts missing"))?;
                let extractor: Arc<dyn TextExtractor> = match (config.ocr, adapters::tesseract::TesseractTextExtractor::detect()) {
                    (crate::config::OcrChoice::None, _) | (crate::config::OcrChoice::Auto, None) => Arc::new(adapters::tesseract::NoOcrTextExtractor),
                    (_, Some(t)) => Arc::new(t),
                    (crate::config::OcrChoice::Tesseract, None) => {
                        return Err(AppError::internal("APP_OCR=tesseract but tesseract with chi_tra is not installed"))
                    }
                };
                (Arc::new(adapters::SqliteActivityStore::new(db)), extractor)
            }
            Backend::Aws { table, bucket, endpoint_url, .. } => {
                let sdk = sdk_for(&config, endpoint_url.as_deref()).await;
                (
                    Arc::new(adapters::DynamoActivityStore::from_sdk(&sdk, table.clone())),
                    Arc::new(adapters::textract::TextractTextExtractor::from_conf(&sdk, bucket.clone())),
                )
            }
        };
        let mut library = FactorLibrary::builtin().map_err(|e| AppError::internal(format!("factor library: {e}")))?;
        if let Some(dir) = &config.factors_dir {
            library = library.with_extra_dir(dir).map_err(|e| AppError::internal(format!("factor library {}: {e}", dir.display())))?;
        }
        let library = Arc::new(library);
        let ingest = IngestService::new(activities.clone(), blobs.clone(), extractor.clone(), clock.clone());
        let totals: Arc<dyn crate::ports::TotalsStore> = match (&config.backend, &local) {
            (Backend::Local { .. }, Some(parts)) => Arc::new(adapters::SqliteTotalsStore::new(parts.db.clone())),
            (Backend::Aws { table, endpoint_url, .. }, _) => {
                let sdk = sdk_for(&config, endpoint_url.as_deref()).await;
                Arc::new(adapters::DynamoTotalsStore::from_sdk(&sdk, table.clone()))
            }
            _ => return Err(AppError::internal("local parts missing")),
        };
        let calculate = CalculateService::new(activities.clone(), totals.clone(), library.clone(), clock.clone());
        let statements: Arc<dyn crate::ports::StatementStore> = match (&config.backend, &local) {
            (Backend::Local { .. }, Some(parts)) => Arc::new(adapters::SqliteStatementStore::new(parts.db.clone())),
            (Backend::Aws { table, endpoint_url, .. }, _) => {
                let sdk = sdk_for(&config, endpoint_url.as_deref()).await;
                Arc::new(adapters::DynamoStatementStore::from_sdk(&sdk, table.clone()))
            }
            _ => return Err(AppError::internal("local parts missing")),
        };
        let firm_profiles: Arc<dyn crate::ports::FirmProfileStore> = match (&config.backend, &local) {
            (Backend::Local { .. }, Some(parts)) => Arc::new(adapters::SqliteFirmProfileStore::new(parts.db.clone())),
            (Backend::Aws { table, endpoint_url, .. }, _) => {
                let sdk = sdk_for(&config, endpoint_url.as_deref()).await;
                Arc::new(adapters::DynamoFirmProfileStore::from_sdk(&sdk, table.clone()))
            }
            _ => return Err(AppError::internal("local parts missing")),
        };
        let firms = crate::services::firms::FirmService::new(firm_profiles.clone(), clock.clone());
        let benchmark = crate::services::benchmark::BenchmarkService::new(
            firm_profiles,
            totals,
            config.privacy,
            std::time::Duration::from_secs(300),
        );
        let statement_keys = match (&local, config.statement_keys.is_empty()) {
            (Some(parts), true) => local_statement_keys(&parts.data_dir)?,
            _ => config.statement_keys.iter().map(|k| StatementKey::parse(k)).collect::<Result<Vec<_>, _>>().map_err(AppError::internal)?,
        };
        let statement = crate::services::statement::StatementService::new(
            statement_keys,
            statements.clone(),
            activities.clone(),
            blobs.clone(),
            library,
            clock.clone(),
            &config.public_url,
        );
        Ok(Arc::new(Self {
            config,
            clock,
            applications,
            blobs,
            mailer,
            notifications,
            members,
            tokens,
            local,
            apply,
            review,
            notify,
            portal,
            staff,
            sso,
            activities,
            extractor,
            ingest,
            calculate,
            statements,
            statement,
            firms,
            benchmark,
            csrf,
        }))
    }

    pub async fn from_env() -> anyhow_like::Result<Arc<Self>> {
        let config = Config::from_env()?;
        Ok(Self::from_config(config).await?)
    }
}

/// A tiny boxed error for `main` functions, without pulling anyhow into the library.
pub mod anyhow_like {
    pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;
    pub type Result<T> = std::result::Result<T, Error>;
}
