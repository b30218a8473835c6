//! Receipt ingest: typing dropped files by their bytes, reading them into text, and
//! parsing bills into activity candidates.

pub mod parse;
pub mod pdf;
pub mod sniff;
mod fuzz;
