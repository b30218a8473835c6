//! The one integration test binary: the local system over HTTP, the adapter contract
//! suite (SQLite and the AWS emulator), every sample event through its handler, and a
//! real browser through the users' whole journey (webdriver.rs, browser.rs).

mod browser;
mod benchmark;
mod carbon;
mod common;
mod contract;
mod contract_activities;
mod events;
mod faults;
mod http;
mod mailbox;
mod national;
mod portal;
mod programme;
mod review;
mod smtp;
mod sso;
mod staff;
mod totals;
mod upload;
mod statement;
mod webdriver;
