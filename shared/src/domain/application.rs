//! The 碳星雲服務申請表單 and the application it becomes.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::email::{CompanyEmail, EmailError, FreeMailDomains};
use super::tax_id::TaxId;

macro_rules! choice_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal => $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The form / API code.
            pub fn code(self) -> &'static str { match self { $($name::$variant => $code),+ } }
            /// The zh-TW label shown to users.
            pub fn label(self) -> &'static str { match self { $($name::$variant => $label),+ } }
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
        }
    };
}

choice_enum!(
    /// 盤查據點或是工廠所在地.
    Region {
        North = "north" => "北部",
        Central = "central" => "中部",
        South = "south" => "南部",
        East = "east" => "東部",
    }
);

choice_enum!(
    /// 公司目前碳盤查的狀況.
    InventoryStatus {
        Verified = "verified" => "完成盤查且經過第三方驗證",
        CompletedUnverified = "completed_unverified" => "完成盤查但未驗證",
        InProgress = "in_progress" => "盤查進行中",
        NotStarted = "not_started" => "尚未開始盤查",
    }
);

choice_enum!(
    /// 公司對於永續哪些議題較為有興趣.
    Interest {
        GhgInventory = "ghg_inventory" => "碳盤查",
        SupplyChain = "supply_chain" => "供應鏈管理調查",
        EnergyManagement = "energy_management" => "能源管理建置",
        Iso50001 = "iso50001" => "ISO 50001 輔導",
        ProductFootprint = "product_footprint" => "產品碳足跡計算（低碳設計）",
        Iso20400 = "iso20400" => "ISO 20400 永續供應鏈輔導",
        Subsidy = "subsidy" => "政府補助資源",
    }
);

choice_enum!(
    /// Where an application stands.
    ApplicationStatus {
        Pending = "pending" => "審核中",
        Approved = "approved" => "審核通過",
        Rejected = "rejected" => "審核未通過",
    }
);

/// One form field: its name in the form and API, its zh-TW label, whether it is
/// required and its length cap (in characters).
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub required: bool,
    pub max_chars: usize,
}

pub mod fields {
    use super::FieldSpec;
    macro_rules! f {
        ($id:ident, $name:literal, $label:literal, $req:literal, $max:literal) => {
            pub const $id: FieldSpec = FieldSpec { name: $name, label: $label, required: $req, max_chars: $max };
        };
    }
    f!(COMPANY_NAME, "company_name", "公司名稱", true, 100);
    f!(TAX_ID, "tax_id", "公司統編", true, 8);
    f!(PRODUCTS, "products", "公司服務項目及主要產品", true, 500);
    f!(APPLICANT_NAME, "applicant_name", "申請人名字", true, 50);
    f!(APPLICANT_DEPARTMENT, "applicant_department", "申請人部門", false, 50);
    f!(APPLICANT_TITLE, "applicant_title", "申請人職務", true, 50);
    f!(CONTACT_EMAIL, "contact_email", "申請人聯絡email", true, 254);
    f!(CONTACT_PHONE, "contact_phone", "申請人連絡電話", true, 30);
    f!(REGIONS, "regions", "盤查據點或是工廠所在地", false, 4);
    f!(INVENTORY_STATUS, "inventory_status", "公司目前碳盤查的狀況", true, 32);
    f!(INTERESTS, "interests", "公司對於永續哪些議題較為有興趣", true, 7);
    f!(NOTES, "notes", "其他（備註）", false, 1000);
    f!(IDEMPOTENCY_KEY, "idempotency_key", "表單識別碼", false, 100);
}

/// The validated content of an application form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationForm {
    pub company_name: String,
    pub tax_id: TaxId,
    pub products: String,
    pub applicant_name: String,
    pub applicant_department: String,
    pub applicant_title: String,
    pub contact_email: CompanyEmail,
    pub contact_phone: String,
    pub regions: Vec<Region>,
    pub inventory_status: InventoryStatus,
    pub interests: Vec<Interest>,
    pub notes: String,
}

/// A client-chosen key that makes a resubmission of the same form return the first result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Per-field messages (zh-TW), keyed by the form field name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert_with(|| msg.into());
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
    pub fn single(field: &str, msg: impl Into<String>) -> Self {
        let mut e = Self::default();
        e.add(field, msg);
        e
    }
}

/// The raw form as posted: every value of every field, in order (repeatable fields
/// such as `regions` appear several times).
#[derive(Debug, Clone, Default)]
pub struct RawForm(pub Vec<(String, String)>);

impl RawForm {
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }
}

/// Characters refused in any field (`domain::text`): CR/LF and other control characters
/// (header injection), bidirectional overrides and invisible characters.
fn forbidden_char_message(value: &str) -> Option<&'static str> {
    super::text::text_problem(value, false)
}

/// Trims and checks one text field: forbidden characters, required, length cap.
pub fn text_field(spec: FieldSpec, value: Option<&str>, errors: &mut FieldErrors) -> String {
    let raw = value.unwrap_or_default();
    if let Some(msg) = forbidden_char_message(raw) {
        errors.add(spec.name, format!("{}{msg}", spec.label));
        return String::new();
    }
    let v = raw.trim().replace('\t', " ");
    if spec.required && v.is_empty() {
        errors.add(spec.name, format!("請填寫{}", spec.label));
    } else if v.chars().count() > spec.max_chars {
        errors.add(spec.name, format!("{}最多 {} 個字", spec.label, spec.max_chars));
    }
    v
}

fn phone_field(value: Option<&str>, errors: &mut FieldErrors) -> String {
    let spec = fields::CONTACT_PHONE;
    let v = text_field(spec, value, errors);
    if errors.get(spec.name).is_some() || v.is_empty() {
        return v;
    }
    // Normalise full-width digits and symbols people type with a Chinese IME.
    let v: String = v
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '（' => '(',
            '）' => ')',
            '－' | '—' | '–' => '-',
            '＋' => '+',
            '＃' => '#',
            c => c,
        })
        .collect();
    // An extension may follow as `#123`, `ext. 123` or `分機 123`.
    let (main, ext) = match ["#", "分機", "ext.", "ext"].iter().find_map(|m| v.find(m).map(|i| (i, m.len()))) {
        Some((i, len)) => (&v[..i], &v[i + len..]),
        None => (v.as_str(), ""),
    };
    let allowed = main.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
        && ext.trim().chars().all(|c| c.is_ascii_digit());
    let digits = v.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(7..=20).contains(&digits) {
        errors.add(spec.name, "連絡電話格式不正確，例如 02-2345-6789 或 0912-345-678（分機可寫 #123）");
    }
    v
}

fn choices<T: Copy + Ord>(
    spec: FieldSpec,
    raw: &RawForm,
    parse: impl Fn(&str) -> Option<T>,
    errors: &mut FieldErrors,
) -> Vec<T> {
    let mut out = Vec::new();
    for v in raw.all(spec.name).take(64) {
        match parse(v.trim()) {
            Some(c) => out.push(c),
            None => {
                errors.add(spec.name, format!("{}的選項不正確", spec.label));
                return Vec::new();
            }
        }
    }
    if raw.count(spec.name) > 64 {
        errors.add(spec.name, format!("{}的選項不正確", spec.label));
    }
    out.sort();
    out.dedup();
    out
}

impl ApplicationForm {
    /// Validates a posted form. On failure every field's problem is reported at once.
    pub fn parse(raw: &RawForm, free_mail: &FreeMailDomains) -> Result<(Self, Option<IdempotencyKey>), FieldErrors> {
        use fields::*;
        let mut e = FieldErrors::default();
        let company_name = text_field(COMPANY_NAME, raw.first(COMPANY_NAME.name), &mut e);
        let tax_raw = raw.first(TAX_ID.name).unwrap_or_default();
        let tax_id = match TaxId::parse(tax_raw) {
            Ok(t) => Some(t),
            Err(err) => {
                e.add(TAX_ID.name, err.to_string());
                None
            }
        };
        let products = text_field(PRODUCTS, raw.first(PRODUCTS.name), &mut e);
        let applicant_name = text_field(APPLICANT_NAME, raw.first(APPLICANT_NAME.name), &mut e);
        let applicant_department = text_field(APPLICANT_DEPARTMENT, raw.first(APPLICANT_DEPARTMENT.name), &mut e);
        let applicant_title = text_field(APPLICANT_TITLE, raw.first(APPLICANT_TITLE.name), &mut e);
        let email_raw = raw.first(CONTACT_EMAIL.name).unwrap_or_default();
        let contact_email = match forbidden_char_message(email_raw) {
            Some(msg) => {
                e.add(CONTACT_EMAIL.name, format!("{}{msg}", CONTACT_EMAIL.label));
                None
            }
            None => match CompanyEmail::parse(email_raw, free_mail) {
                Ok(c) => Some(c),
                Err(EmailError::Empty) => {
                    e.add(CONTACT_EMAIL.name, format!("請填寫{}", CONTACT_EMAIL.label));
                    None
                }
                Err(err) => {
                    e.add(CONTACT_EMAIL.name, err.to_string());
                    None
                }
            },
        };
        let contact_phone = phone_field(raw.first(CONTACT_PHONE.name), &mut e);
        let regions = choices(REGIONS, raw, Region::from_code, &mut e);
        let statuses = choices(INVENTORY_STATUS, raw, InventoryStatus::from_code, &mut e);
        let inventory_status = match statuses.as_slice() {
            [one] => Some(*one),
            [] => {
                e.add(INVENTORY_STATUS.name, format!("請選擇{}", INVENTORY_STATUS.label));
                None
            }
            _ => {
                e.add(INVENTORY_STATUS.name, format!("{}只能選一項", INVENTORY_STATUS.label));
                None
            }
        };
        let interests = choices(INTERESTS, raw, Interest::from_code, &mut e);
        if interests.is_empty() {
            e.add(INTERESTS.name, format!("請至少選擇一項{}", INTERESTS.label));
        }
        let notes = text_field(NOTES, raw.first(NOTES.name), &mut e);
        let key = text_field(IDEMPOTENCY_KEY, raw.first(IDEMPOTENCY_KEY.name), &mut e);
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            e.add(IDEMPOTENCY_KEY.name, "表單識別碼不正確，請重新整理頁面後再送出");
        }
        if !e.is_empty() {
            return Err(e);
        }
        let form = ApplicationForm {
            company_name,
            tax_id: tax_id.expect("checked"),
            products,
            applicant_name,
            applicant_department,
            applicant_title,
            contact_email: contact_email.expect("checked"),
            contact_phone,
            regions,
            inventory_status: inventory_status.expect("checked"),
            interests,
            notes,
        };
        let key = (!key.is_empty()).then_some(IdempotencyKey(key));
        Ok((form, key))
    }

    /// A stable fingerprint of the content, used to tell a true resubmission (same
    /// idempotency key, same content) from a reused key with different content.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(self).expect("serialisable");
        let digest = Sha256::digest(&json);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Identifier of an application (a UUIDv7: time-ordered, unguessable enough for a
/// status page that shows nothing secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplicationId(String);

impl ApplicationId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::parse_str(s).ok().filter(|u| u.hyphenated().to_string() == s).map(|u| Self(u.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ApplicationId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ApplicationId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("invalid application id {value:?}"))
    }
}

impl From<ApplicationId> for String {
    fn from(value: ApplicationId) -> Self {
        value.0
    }
}

/// A reviewer's decision, kept as the audit trail of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub status: ApplicationStatus,
    pub reviewer: String,
    pub reason: Option<String>,
    pub decided_at: DateTime<Utc>,
}

/// A stored application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: ApplicationId,
    pub form: ApplicationForm,
    pub status: ApplicationStatus,
    /// Incremented on every state change; binds review links to the state they were made for.
    pub version: u32,
    pub submitted_at: DateTime<Utc>,
    pub decision: Option<Decision>,
}

impl Application {
    pub fn new_pending(form: ApplicationForm, now: DateTime<Utc>) -> Self {
        Self { id: ApplicationId::new(), form, status: ApplicationStatus::Pending, version: 1, submitted_at: now, decision: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn valid_raw() -> RawForm {
        RawForm(
            [
                ("company_name", "維他命股份有限公司"),
                ("tax_id", "99754141"),
                ("products", "保健食品製造"),
                ("applicant_name", "王小明"),
                ("applicant_department", "永續發展部"),
                ("applicant_title", "經理"),
                ("contact_email", "ming@vitamin.com.tw"),
                ("contact_phone", "02-2345-6789#12"),
                ("regions", "north"),
                ("regions", "south"),
                ("regions", "north"),
                ("inventory_status", "in_progress"),
                ("interests", "ghg_inventory"),
                ("interests", "subsidy"),
                ("notes", ""),
                ("idempotency_key", "0b6c1e9a-1d9c-4c33-9d8f-1f7c2b7e0a11"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
    }

    fn with(field: &str, value: &str) -> RawForm {
        let mut raw = valid_raw();
        raw.0.retain(|(k, _)| k != field);
        raw.0.push((field.into(), value.into()));
        raw
    }

    fn err_of(raw: &RawForm, field: &str) -> String {
        let e = ApplicationForm::parse(raw, &FreeMailDomains::builtin()).unwrap_err();
        e.get(field).unwrap_or_else(|| panic!("no error for {field}: {e:?}")).to_string()
    }

    #[test]
    fn valid_form_parses_and_normalises() {
        let (f, key) = ApplicationForm::parse(&valid_raw(), &FreeMailDomains::builtin()).unwrap();
        assert_eq!(f.tax_id.as_str(), "99754141");
        assert_eq!(f.regions, vec![Region::North, Region::South]);
        assert_eq!(f.interests, vec![Interest::GhgInventory, Interest::Subsidy]);
        assert_eq!(f.inventory_status, InventoryStatus::InProgress);
        assert_eq!(key.unwrap().as_str(), "0b6c1e9a-1d9c-4c33-9d8f-1f7c2b7e0a11");
    }

    #[test]
    fn every_problem_is_reported_per_field_in_chinese() {
        let raw = RawForm(vec![("tax_id".into(), "22099132".into()), ("contact_email".into(), "a@gmail.com".into())]);
        let e = ApplicationForm::parse(&raw, &FreeMailDomains::builtin()).unwrap_err();
        for f in ["company_name", "tax_id", "products", "applicant_name", "applicant_title", "contact_email", "contact_phone", "inventory_status", "interests"] {
            assert!(e.get(f).is_some(), "missing error for {f}: {e:?}");
        }
        assert!(e.get("applicant_department").is_none());
        assert!(e.get("regions").is_none());
        assert!(e.get("company_name").unwrap().contains("公司名稱"));
    }

    #[test]
    fn crlf_and_bidi_controls_are_refused_everywhere() {
        for field in ["company_name", "products", "applicant_name", "applicant_department", "applicant_title", "contact_email", "contact_phone", "notes"] {
            assert!(err_of(&with(field, "abc\r\nBcc: x@evil.com"), field).contains("換行"), "{field}");
        }
        assert!(err_of(&with("company_name", "ACME\u{202E}gnp.exe"), "company_name").contains("方向"));
        // Invisible characters would let two company names look alike (issue 13).
        assert!(err_of(&with("company_name", "維他命\u{200B}股份有限公司"), "company_name").contains("看不見"));
        assert!(err_of(&with("applicant_name", "\u{FEFF}王小明"), "applicant_name").contains("看不見"));
    }

    #[test]
    fn lengths_are_capped() {
        assert!(err_of(&with("company_name", &"公".repeat(101)), "company_name").contains("100"));
        assert!(ApplicationForm::parse(&with("company_name", &"公".repeat(100)), &FreeMailDomains::builtin()).is_ok());
        assert!(err_of(&with("notes", &"x".repeat(1001)), "notes").contains("1000"));
    }

    #[test]
    fn choices_are_checked() {
        assert!(err_of(&with("inventory_status", "maybe"), "inventory_status").contains("選項"));
        assert!(err_of(&with("regions", "west"), "regions").contains("選項"));
        let mut two = valid_raw();
        two.0.push(("inventory_status".into(), "verified".into()));
        assert!(err_of(&two, "inventory_status").contains("只能選一項"));
        let mut none = valid_raw();
        none.0.retain(|(k, _)| k != "interests");
        assert!(err_of(&none, "interests").contains("至少"));
    }

    #[test]
    fn phone_numbers() {
        for ok in ["0912-345-678", "(02)2345-6789", "+886 2 2345 6789", "０２－２３４５－６７８９", "02-23456789#123", "02-2345-6789 分機 12", "02 2345 6789 ext. 7"] {
            assert!(ApplicationForm::parse(&with("contact_phone", ok), &FreeMailDomains::builtin()).is_ok(), "{ok}");
        }
        for bad in ["123", "call me", "02-2345-6789; DROP TABLE", "02-2345-6789 text", "02-2345-6789#12x"] {
            assert!(err_of(&with("contact_phone", bad), "contact_phone").contains("電話"), "{bad}");
        }
    }

    #[test]
    fn free_mail_message_points_to_notes() {
        assert!(err_of(&with("contact_email", "王 <wang@Gmail.com>"), "contact_email").contains("備註"));
    }

    #[test]
    fn fingerprint_depends_on_content() {
        let (a, _) = ApplicationForm::parse(&valid_raw(), &FreeMailDomains::builtin()).unwrap();
        let (b, _) = ApplicationForm::parse(&with("notes", "x"), &FreeMailDomains::builtin()).unwrap();
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn application_ids() {
        let id = ApplicationId::new();
        assert_eq!(ApplicationId::parse(id.as_str()), Some(id));
        assert_eq!(ApplicationId::parse("../etc/passwd"), None);
        assert_eq!(ApplicationId::parse("0192F0E2-0000-7000-8000-000000000000"), None);
    }
}
