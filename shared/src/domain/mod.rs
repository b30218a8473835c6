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
