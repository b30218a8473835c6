//! Submitting the 碳星雲服務申請表單 and looking up where an application stands.

use std::sync::Arc;

use crate::domain::{Application, ApplicationForm, ApplicationId, ApplicationStatus, FieldErrors, FreeMailDomains, RawForm};
use crate::error::{AppError, AppResult};
use crate::ports::{ApplicationStore, Clock, Submission};

#[derive(Clone)]
pub struct ApplyService {
    store: Arc<dyn ApplicationStore>,
    clock: Arc<dyn Clock>,
    free_mail: FreeMailDomains,
}

impl ApplyService {
    pub fn new(store: Arc<dyn ApplicationStore>, clock: Arc<dyn Clock>, free_mail: FreeMailDomains) -> Self {
        Self { store, clock, free_mail }
    }

    /// Validates and stores a pending application. Nothing is written when validation
    /// fails or when the company already has a pending or approved application.
    pub async fn submit(&self, raw: &RawForm) -> AppResult<Submission> {
        let (form, key) = ApplicationForm::parse(raw, &self.free_mail).map_err(AppError::Validation)?;
        let application = Application::new_pending(form, self.clock.now());
        let outcome = self.store.submit(&application, key.as_ref()).await?;
        match &outcome {
            Submission::Created(a) => tracing::info!(application.id = %a.id, "application submitted"),
            Submission::Replayed(a) => tracing::info!(application.id = %a.id, "application resubmitted with the same idempotency key"),
        }
        Ok(outcome)
    }

    pub async fn get(&self, id: &str) -> AppResult<Application> {
        let not_found = || AppError::NotFound("查無此申請，請確認網址是否正確。".into());
        let id = ApplicationId::parse(id).ok_or_else(not_found)?;
        self.store.get(&id).await?.ok_or_else(not_found)
    }
}

/// 409 for a company that already has an active application.
pub fn conflict_error(existing: ApplicationStatus) -> AppError {
    AppError::Conflict(match existing {
        ApplicationStatus::Approved => {
            "此公司（統一編號）已通過碳星雲服務審核；一個公司（一個場域）僅開放申請一個帳號，請洽公司管理員開通成員權限。".into()
        }
        _ => "此公司（統一編號）已有一筆申請正在審核中（審核中），請勿重複申請；審核通常需要 3-5 個工作天。".into(),
    })
}

/// 422 for an idempotency key reused with a different form content.
pub fn idempotency_mismatch_error() -> AppError {
    AppError::Validation(FieldErrors::single("idempotency_key", "此表單已送出過且內容不同，請重新整理頁面後再填寫送出。"))
}
