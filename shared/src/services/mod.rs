//! Use cases. They speak in domain types and ports, never in HTTP or SDK types.

pub mod apply;
pub mod benchmark;
pub mod calculate;
pub mod firms;
pub mod ingest;
pub mod inventory;
pub mod members;
pub mod notify;
pub mod portal;
pub mod review;
pub mod sso;
pub mod staff;
pub mod statement;
pub mod upload;

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sweep {
    /// Abandoned items found (files with a stale claim, e-mails not sent).
    pub found: usize,
    /// Of those, brought to a final state (or found final) by this sweep.
    pub finished: usize,
    /// Of those, still not final (tried again next time).
    pub failed: usize,
}
