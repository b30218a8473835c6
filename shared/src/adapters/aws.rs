//! Shared AWS plumbing: SDK configuration and the mapping of SDK errors to `AppError`.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::AppError;

/// Loads the SDK configuration from the environment (credentials, region), with an
/// explicit endpoint for the emulator when given.
pub async fn sdk_config(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalServerError",
    "ServiceUnavailable",
    "SlowDown",
    "TransactionInProgressException",
];

/// Maps an SDK error: throttling, timeouts and network failures are `Unavailable`
/// (retry later), everything else is `Internal`. The message keeps the error code and
/// the operation, never request contents.
pub fn sdk_err<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(op: &str, e: SdkError<E, R>) -> AppError {
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => s.err().code().is_some_and(|c| RETRYABLE_CODES.contains(&c)),
        _ => false,
    };
    let code = e.code().unwrap_or("unknown").to_string();
    let msg = e.message().unwrap_or_default().to_string();
    if transient {
        AppError::Unavailable(format!("{op}: {code} {msg}"))
    } else {
        AppError::Internal(format!("{op}: {code} {msg}"))
    }
}
