//! Firm profiles (公司資料維護): who may change them, versions and the audit trail.
//! The stores only write what this service decides, atomically.

use std::sync::Arc;

use crate::domain::application::{FieldErrors, RawForm};
use crate::domain::firm::valid_year;
use crate::domain::{FirmProfile, ProfileAudit, ProfileFields, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::{Clock, FirmProfileStore};

/// Someone else saved the profile between this person's read and write.
pub fn stale_profile_error() -> AppError {
    AppError::Conflict("公司資料已被其他人更新，請重新載入頁面後再修改。".into())
}

/// What a profile page shows for a year: the year's profile, or the newest earlier
/// year's values as a starting point.
#[derive(Debug, Clone)]
pub struct ProfileView {
    pub year: i32,
    pub profile: Option<FirmProfile>,
    pub prefill_from: Option<FirmProfile>,
}

#[derive(Clone)]
pub struct FirmService {
    store: Arc<dyn FirmProfileStore>,
    clock: Arc<dyn Clock>,
}

impl FirmService {
    pub fn new(store: Arc<dyn FirmProfileStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub fn store(&self) -> &Arc<dyn FirmProfileStore> {
        &self.store
    }

    /// The inventory year a profile page opens on: last calendar year.
    pub fn default_year(&self) -> i32 {
        crate::domain::firm::taiwan_year(self.clock.now()) - 1
    }

    pub fn check_year(&self, year: i32) -> AppResult<i32> {
        if valid_year(year, self.clock.now()) {
            Ok(year)
        } else {
            Err(AppError::Validation(FieldErrors::single("year", format!("年度須介於 2000 與 {} 之間", self.default_year() + 2))))
        }
    }

    pub async fn view(&self, tax_id: &TaxId, year: i32) -> AppResult<ProfileView> {
        let year = self.check_year(year)?;
        let history = self.store.history(tax_id).await?;
        let profile = history.iter().find(|p| p.year == year).cloned();
        let prefill_from = if profile.is_none() { history.iter().rev().find(|p| p.year < year).or(history.last()).cloned() } else { None };
        Ok(ProfileView { year, profile, prefill_from })
    }

    /// Validates and saves the form for `year`. `expected_version` is the version the
    /// person saw (0 when there was none); a stale one is a conflict.
    pub async fn save(&self, tax_id: &TaxId, year: i32, raw: &RawForm, actor: &str) -> AppResult<FirmProfile> {
        let year = self.check_year(year)?;
        let fields = ProfileFields::parse(raw).map_err(AppError::Validation)?;
        let expected: u32 = raw.first("version").unwrap_or("0").trim().parse().map_err(|_| stale_profile_error())?;
        self.save_fields(tax_id, year, fields, Some(expected), actor).await
    }

    /// Saves validated fields; `expected_version` None overwrites whatever is stored
    /// (imports and demo data), still with an audit entry.
    pub async fn save_fields(&self, tax_id: &TaxId, year: i32, fields: ProfileFields, expected_version: Option<u32>, actor: &str) -> AppResult<FirmProfile> {
        let current = self.store.get(tax_id, year).await?;
        let stored = current.as_ref().map_or(0, |p| p.version);
        if expected_version.is_some_and(|v| v != stored) {
            return Err(stale_profile_error());
        }
        let now = self.clock.now();
        let profile = FirmProfile { tax_id: tax_id.clone(), year, fields, version: stored + 1, updated_at: now, updated_by: actor.to_string() };
        if current.as_ref().is_some_and(|c| c.fields == profile.fields) {
            return Ok(current.unwrap_or(profile));
        }
        let audit = ProfileAudit {
            tax_id: tax_id.clone(),
            year,
            actor: actor.to_string(),
            before: current.map(|c| c.fields),
            after: profile.fields.clone(),
            version: profile.version,
            at: now,
        };
        self.store.save(&profile, &audit).await?;
        tracing::info!(tax_id = %tax_id, year, version = profile.version, "firm profile saved");
        Ok(profile)
    }
}
