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
