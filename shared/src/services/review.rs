//! Review decisions from the links in reviewers' e-mails.

use std::sync::Arc;


use crate::domain::{
    parse_reason, Application, ApplicationStatus, Decision, FieldErrors, ReviewAction, ReviewClaims, ReviewSigner, TokenError,
};
use crate::error::{AppError, AppResult};
use crate::ports::{ApplicationStore, Clock};

/// 409 for a link whose application is no longer pending at the link's version; names
/// the decision that won.
pub fn already_decided_error(current: &Application) -> AppError {
    match &current.decision {
        Some(d) if current.status != ApplicationStatus::Pending => {
            let at = crate::domain::taipei_minutes(d.decided_at);
            AppError::Conflict(format!(
                "此申請已於 {at}（台北時間）由 {} 審核為「{}」，無法再次審核。",
                d.reviewer,
                current.status.label()
            ))
        }
        _ => AppError::Conflict("此審核連結已失效（申請狀態已變更），請使用最新通知信中的連結。".into()),
    }
}

fn token_error(e: TokenError) -> AppError {
    match e {
        TokenError::Invalid => AppError::Forbidden(e.to_string()),
        TokenError::Expired => AppError::Gone(e.to_string()),
    }
}

/// What a valid link shows.
#[derive(Debug, Clone)]
pub struct ReviewView {
    pub application: Application,
    pub claims: ReviewClaims,
}

#[derive(Clone)]
pub struct ReviewService {
    store: Arc<dyn ApplicationStore>,
    signer: ReviewSigner,
    clock: Arc<dyn Clock>,
}

impl ReviewService {
    pub fn new(store: Arc<dyn ApplicationStore>, signer: ReviewSigner, clock: Arc<dyn Clock>) -> Self {
        Self { store, signer, clock }
    }

    /// Checks a link without changing anything: 403 tampered, 410 expired, 409 decided.
    pub async fn open(&self, token: &str) -> AppResult<ReviewView> {
        let claims = self.signer.verify(token, self.clock.now()).map_err(token_error)?;
        let application =
            self.store.get(&claims.application_id).await?.ok_or_else(|| AppError::NotFound("查無此申請。".into()))?;
        if application.status != ApplicationStatus::Pending || application.version != claims.version {
            return Err(already_decided_error(&application));
        }
        Ok(ReviewView { application, claims })
    }

    /// Records the decision the link was made for. `decision` must match the link's
    /// action; a rejection needs a reason.
    pub async fn decide(&self, token: &str, decision: Option<&str>, reason: Option<&str>) -> AppResult<Application> {
        let claims = self.signer.verify(token, self.clock.now()).map_err(token_error)?;
        let action = decision
            .and_then(ReviewAction::from_code)
            .ok_or_else(|| AppError::Validation(FieldErrors::single("decision", "請選擇審核結果（核准或退件）")))?;
        if action != claims.action {
            return Err(AppError::Forbidden(format!("此連結僅能用於「{}」，請使用通知信中對應的連結。", claims.action.label())));
        }
        let reason = parse_reason(action, reason).map_err(|m| AppError::Validation(FieldErrors::single("reason", m)))?;
        let decision = Decision {
            status: match action {
                ReviewAction::Approve => ApplicationStatus::Approved,
                ReviewAction::Reject => ApplicationStatus::Rejected,
            },
            reviewer: claims.reviewer.to_string(),
            reason,
            decided_at: self.clock.now(),
        };
        let app = self.store.decide(&claims.application_id, claims.version, &decision).await?;
        tracing::info!(application.id = %app.id, decision = action.code(), "application decided");
        Ok(app)
    }

    /// A signed link token for one reviewer and action.
    pub fn token(&self, app: &Application, action: ReviewAction, reviewer: &crate::domain::EmailAddress, ttl: chrono::Duration) -> String {
        self.signer.sign(&ReviewClaims {
            application_id: app.id.clone(),
            action,
            reviewer: reviewer.clone(),
            version: app.version,
            expires_at: (self.clock.now() + ttl).timestamp(),
        })
    }
}
