//! The stored shape of domain entities: one item layout shared by DynamoDB (single
//! table, pk/sk + gsi1) and by the SQLite change log, so that stream consumers decode
//! the same `NewImage`/`OldImage` whichever backend produced the record.

use serde::{Deserialize, Serialize};

use crate::domain::{Application, ApplicationId, IdempotencyKey, TaxId};

pub const ENTITY_APPLICATION: &str = "application";

pub fn application_pk(id: &ApplicationId) -> String {
    format!("APP#{id}")
}
pub const APPLICATION_SK: &str = "APPLICATION";

/// The uniqueness item "this company has an active (pending or approved) application".
pub fn company_pk(tax_id: &TaxId) -> String {
    format!("COMPANY#{tax_id}")
}
pub const ACTIVE_APPLICATION_SK: &str = "ACTIVE_APPLICATION";

pub fn idempotency_pk(key: &IdempotencyKey) -> String {
    format!("IDEM#{}", key.as_str())
}
pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";

pub const PENDING_GSI2PK: &str = "STATUS#pending";
pub const APPROVED_GSI2PK: &str = "STATUS#approved";
pub const REJECTED_GSI2PK: &str = "STATUS#rejected";

/// Notification-log items (dedupe of e-mails).
pub fn notification_pk(key: &str) -> String {
    format!("NOTIFY#{key}")
}
pub const NOTIFICATION_SK: &str = "NOTIFICATION";

/// Audit items of decisions: `APP#{id}` / `DECISION#{version:05}`.
pub fn decision_sk(version: u32) -> String {
    format!("DECISION#{version:05}")
}

/// Fixed-width UTC timestamps (millisecond precision, `Z`), so they sort as text.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An application as stored: the entity plus its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    /// `COMPANY#{tax_id}`: a company's applications, newest last (by gsi1sk).
    pub gsi1pk: String,
    pub gsi1sk: String,
    /// `STATUS#pending` / `STATUS#approved` / `STATUS#rejected`: the applications
    /// awaiting review (review-SLA reminders), the approved companies (trial reminders)
    /// and the rejections by decision time (the sweeper's recent decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    #[serde(flatten)]
    pub application: Application,
}

impl From<&Application> for ApplicationItem {
    fn from(a: &Application) -> Self {
        Self {
            pk: application_pk(&a.id),
            sk: APPLICATION_SK.to_string(),
            entity: ENTITY_APPLICATION.to_string(),
            gsi1pk: company_pk(&a.form.tax_id),
            gsi1sk: format!("APP#{}#{}", a.submitted_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), a.id),
            gsi2pk: Some(format!("STATUS#{}", a.status.code())),
            gsi2sk: Some(match (&a.status, &a.decision) {
                // Rejected ones by decision time: the sweeper reads only the recent ones.
                (crate::domain::ApplicationStatus::Rejected, Some(d)) => format!("{}#{}", timestamp(d.decided_at), a.id),
                _ => format!("{}#{}", timestamp(a.submitted_at), a.id),
            }),
            application: a.clone(),
        }
    }
}

/// Decodes a stream image (`NewImage`/`OldImage`) into an application, if it is one.
pub fn application_from_image(image: &serde_dynamo::Item) -> Option<Result<Application, String>> {
    match image.get("entity") {
        Some(serde_dynamo::AttributeValue::S(e)) if e == ENTITY_APPLICATION => {}
        _ => return None,
    }
    Some(
        serde_dynamo::from_item::<_, ApplicationItem>(image.clone())
            .map(|i| i.application)
            .map_err(|e| e.to_string()),
    )
}

pub const ENTITY_ACTIVITY: &str = "activity";
pub const ENTITY_FILE: &str = "file";
pub const ENTITY_EMISSION: &str = "emission";

/// `COMPANY#{tax}` / `ACTIVITY#{id}`: an activity record.
pub fn activity_sk(id: &str) -> String {
    format!("ACTIVITY#{id}")
}
/// `COMPANY#{tax}` / `FILE#{key}#{version}`: a dropped file.
pub fn file_sk(key: &str, version: &str) -> String {
    format!("FILE#{key}#{version}")
}
/// `COMPANY#{tax}` / `EMISSION#{activity}#{month}`: an emission line.
pub fn emission_sk(activity_id: &str, month: &str) -> String {
    format!("EMISSION#{activity_id}#{month}")
}
/// `COMPANY#{tax}` / `DEDUPE#{key}`: who holds a bill's dedupe key.
pub fn dedupe_sk(key: &str) -> String {
    format!("DEDUPE#{key}")
}

/// An activity as stored (and as seen on the stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    #[serde(flatten)]
    pub activity: crate::domain::inventory::Activity,
}

impl From<&crate::domain::inventory::Activity> for ActivityItem {
    fn from(a: &crate::domain::inventory::Activity) -> Self {
        Self { pk: format!("COMPANY#{}", a.tax_id), sk: activity_sk(&a.id), entity: ENTITY_ACTIVITY.into(), activity: a.clone() }
    }
}

/// Decodes a stream image into an activity, if it is one.
pub fn activity_from_image(image: &serde_dynamo::Item) -> Option<Result<crate::domain::inventory::Activity, String>> {
    match image.get("entity") {
        Some(serde_dynamo::AttributeValue::S(e)) if e == ENTITY_ACTIVITY => {}
        _ => return None,
    }
    Some(serde_dynamo::from_item::<_, ActivityItem>(image.clone()).map(|i| i.activity).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApplicationForm, FreeMailDomains, RawForm};

    #[test]
    fn item_round_trips_through_a_stream_image() {
        let raw = RawForm(
            [
                ("company_name", "維他命股份有限公司"),
                ("tax_id", "99754141"),
                ("products", "保健食品"),
                ("applicant_name", "王小明"),
                ("applicant_title", "經理"),
                ("contact_email", "ming@vitamin.com.tw"),
                ("contact_phone", "02-2345-6789"),
                ("inventory_status", "not_started"),
                ("interests", "subsidy"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        let (form, _) = ApplicationForm::parse(&raw, &FreeMailDomains::builtin()).unwrap();
        let app = Application::new_pending(form, chrono::Utc::now());
        let item = ApplicationItem::from(&app);
        let json = serde_json::to_value(&item).unwrap();
        let image: serde_dynamo::Item = serde_dynamo::to_item(&json).unwrap();
        assert_eq!(application_from_image(&image).unwrap().unwrap(), app);
        let mut other = image.clone();
        other.insert("entity".into(), serde_dynamo::AttributeValue::S("member".into()));
        assert!(application_from_image(&other).is_none());
    }
}
