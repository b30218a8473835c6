//! The one integration test binary: the local system over HTTP, the adapter contract
//! suite (SQLite and the AWS emulator), and every sample event through its handler.

mod carbon;
mod common;
mod contract;
mod contract_activities;
mod events;
mod http;
mod mailbox;
mod portal;
mod review;
mod smtp;
mod sso;
mod statement;
