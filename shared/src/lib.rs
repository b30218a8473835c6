//! EcoSphere Carbon: the domain (validated values, no I/O), the ports (traits named by
//! what they do), the services (use cases), the adapters (AWS and one machine), and the
//! web helpers shared by the Lambda functions and the local runtime.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod factors;
pub mod faults;
pub mod ingest;
pub mod mail;
pub mod national;
pub mod ports;
pub mod programme;
pub mod records;
pub mod report;
pub mod runtime;
pub mod services;
pub mod statement;
pub mod stream;
pub mod web;

pub use app::App;
pub use config::Config;
pub use error::{AppError, AppResult};
