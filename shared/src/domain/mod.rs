//! The domain: validated values and the application lifecycle. No I/O here.

pub mod application;
pub mod email;
pub mod tax_id;

pub use application::*;
pub use email::{CompanyEmail, EmailAddress, EmailError, FreeMailDomains};
pub use tax_id::{TaxId, TaxIdError};
