//! The domain: validated values and the application lifecycle. No I/O here.

pub mod activity;
pub mod application;
pub mod email;
pub mod firm;
pub mod inventory;
pub mod member;
pub mod review;
pub mod tax_id;
pub mod text;
pub mod totals;

pub use activity::{ActivityCandidate, ActivityKind, ExtractedDocument, ExtractedPage, ExtractionMethod, Field, FileType, TextLine, Unit};
pub use application::*;
pub use email::{CompanyEmail, EmailAddress, EmailError, FreeMailDomains};
pub use tax_id::{TaxId, TaxIdError};
pub use review::{parse_reason, ReviewAction, ReviewClaims, ReviewSigner, TokenError};
pub use member::{Member, MemberAudit, MemberId, MemberProfile};
pub use firm::{Counties, County, FirmProfile, IndustryCode, IndustryTable, ProfileAudit, ProfileFields, Sector};
pub use totals::{FirmYearTotal, Source};

/// A moment as people in Taiwan read it, to the minute: `2026/01/02 00:30` (UTC+8, no
/// daylight saving time).
pub fn taipei_minutes(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8")).format("%Y/%m/%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_taipei_time() {
        assert_eq!(super::taipei_minutes("2026-01-01T16:30:00Z".parse().unwrap()), "2026/01/02 00:30");
    }
}
