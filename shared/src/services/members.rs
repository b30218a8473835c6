//! Member management rules shared by the adapters.

use crate::domain::{Application, Member, MemberId, MemberProfile};
use crate::error::AppError;

pub fn last_admin_error() -> AppError {
    AppError::Conflict("公司至少需要一位管理員：請先將其他成員設為管理員，再移除或取消此成員的管理權限。".into())
}

pub fn duplicate_email_error() -> AppError {
    AppError::Conflict("此 Email 已是公司成員。".into())
}

pub fn member_not_found() -> AppError {
    AppError::NotFound("查無此成員。".into())
}

/// The applicant of an approved application: the company's first member, an admin
/// with carbon-platform login.
pub fn first_member(app: &Application, now: chrono::DateTime<chrono::Utc>) -> Member {
    let f = &app.form;
    Member {
        id: MemberId::first_of(&app.id),
        tax_id: f.tax_id.clone(),
        profile: MemberProfile {
            name: f.applicant_name.clone(),
            email: f.contact_email.address().clone(),
            phone: f.contact_phone.clone(),
            title: f.applicant_title.clone(),
            is_admin: true,
            carbon_login: true,
        },
        created_at: now,
        updated_at: now,
    }
}

/// E-mails compare case-insensitively for membership.
pub fn email_key(email: &crate::domain::EmailAddress) -> String {
    email.as_str().to_lowercase()
}
