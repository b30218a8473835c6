//! Members of an approved company: who may use the portal, who administers the
//! company's members, who may enter the carbon platform.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::application::{text_field, FieldErrors, FieldSpec, RawForm};
use super::{EmailAddress, EmailError, TaxId};

pub mod fields {
    use super::FieldSpec;
    pub const NAME: FieldSpec = FieldSpec { name: "name", label: "使用者名稱", required: true, max_chars: 50 };
    pub const EMAIL: FieldSpec = FieldSpec { name: "email", label: "Email", required: true, max_chars: 254 };
    pub const PHONE: FieldSpec = FieldSpec { name: "phone", label: "電話", required: false, max_chars: 30 };
    pub const TITLE: FieldSpec = FieldSpec { name: "title", label: "職稱", required: false, max_chars: 50 };
    pub const IS_ADMIN: FieldSpec = FieldSpec { name: "is_admin", label: "是否為管理員", required: true, max_chars: 3 };
    pub const CARBON_LOGIN: FieldSpec = FieldSpec { name: "carbon_login", label: "碳星雲登入權限", required: true, max_chars: 3 };
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberId(String);

impl MemberId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
    /// The first member of a company is derived from its application, so creating it
    /// twice is the same write.
    pub fn first_of(application_id: &super::ApplicationId) -> Self {
        Self(application_id.to_string())
    }
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::parse_str(s).ok().filter(|u| u.hyphenated().to_string() == s).map(|u| Self(u.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MemberId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for MemberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an admin enters for a member (成員資料).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberProfile {
    pub name: String,
    pub email: EmailAddress,
    pub phone: String,
    pub title: String,
    pub is_admin: bool,
    pub carbon_login: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub tax_id: TaxId,
    #[serde(flatten)]
    pub profile: MemberProfile,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn yes_no(spec: FieldSpec, raw: &RawForm, errors: &mut FieldErrors) -> bool {
    match raw.first(spec.name).map(str::trim) {
        Some("yes") | Some("true") | Some("是") => true,
        Some("no") | Some("false") | Some("否") => false,
        _ => {
            errors.add(spec.name, format!("請選擇{}（是／否）", spec.label));
            false
        }
    }
}

impl MemberProfile {
    /// Validates the 成員資料 form; every field's problem at once (zh-TW).
    pub fn parse(raw: &RawForm) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let name = text_field(fields::NAME, raw.first(fields::NAME.name), &mut e);
        let email_raw = raw.first(fields::EMAIL.name).unwrap_or_default();
        let email = match EmailAddress::parse(email_raw) {
            Ok(a) => Some(a),
            Err(EmailError::Empty) => {
                e.add(fields::EMAIL.name, "請填寫 Email");
                None
            }
            Err(err) => {
                e.add(fields::EMAIL.name, err.to_string());
                None
            }
        };
        let phone = text_field(fields::PHONE, raw.first(fields::PHONE.name), &mut e);
        let title = text_field(fields::TITLE, raw.first(fields::TITLE.name), &mut e);
        let is_admin = yes_no(fields::IS_ADMIN, raw, &mut e);
        let carbon_login = yes_no(fields::CARBON_LOGIN, raw, &mut e);
        if !e.is_empty() {
            return Err(e);
        }
        Ok(Self { name, email: email.expect("checked"), phone, title, is_admin, carbon_login })
    }
}

/// One audited change to a company's members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAudit {
    pub tax_id: TaxId,
    pub member_id: MemberId,
    /// Who did it: a member's e-mail, or `system` (approval).
    pub actor: String,
    pub action: String,
    pub before: Option<MemberProfile>,
    pub after: Option<MemberProfile>,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawForm {
        RawForm(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn profiles_validate() {
        let p = MemberProfile::parse(&raw(&[("name", "王小明"), ("email", "Ming@Vitamin.com.tw"), ("is_admin", "yes"), ("carbon_login", "no")])).unwrap();
        assert_eq!(p.email.as_str(), "Ming@vitamin.com.tw");
        assert!(p.is_admin && !p.carbon_login);
        let e = MemberProfile::parse(&raw(&[("email", "x"), ("name", "a\r\nb")])).unwrap_err();
        for f in ["name", "email", "is_admin", "carbon_login"] {
            assert!(e.get(f).is_some(), "{f}");
        }
    }
}
