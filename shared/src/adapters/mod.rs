//! Adapters: the ports implemented for AWS (`Dynamo*`, `S3*`, `Ses*`) and for one
//! machine (`Sqlite*`, `Folder*`, `Outbox*`, `Smtp*`). SDK types never leave this module.

pub mod aws;
pub mod drop;
pub mod dynamo;
pub mod dynamo_activities;
pub mod dynamo_firms;
pub mod dynamo_members;
pub mod dynamo_statements;
pub mod dynamo_totals;
pub mod folder;
pub mod outbox;
pub mod s3;
pub mod ses;
pub mod smtp;
pub mod sqlite;
pub mod tesseract;
pub mod textract;

pub use dynamo::{DynamoApplicationStore, DynamoNotificationLog, DynamoTokenStore};
pub use dynamo_activities::DynamoActivityStore;
pub use dynamo_firms::DynamoFirmProfileStore;
pub use dynamo_members::DynamoMemberStore;
pub use dynamo_statements::DynamoStatementStore;
pub use dynamo_totals::DynamoTotalsStore;
pub use folder::FolderBlobStore;
pub use outbox::OutboxMailer;
pub use s3::S3BlobStore;
pub use ses::SesMailer;
pub use smtp::SmtpMailer;
pub use sqlite::{SqliteActivityStore, SqliteApplicationStore, SqliteFirmProfileStore, SqliteTotalsStore, SqliteDb, SqliteMemberStore, SqliteNotificationLog, SqliteStatementStore, SqliteTokenStore};
