//! The one error shape every route answers with.

use std::fmt::Display;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, as a sentence.
    #[schema(example = "size must be between 1 and 1000, not 5000")]
    pub error: String,
    /// The request parameter at fault (query parameter or JSON field), or null.
    #[schema(example = "size")]
    pub parameter: Option<String>,
}

/// A failed request: a status and an [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>, parameter: Option<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                parameter,
            },
        }
    }

    /// 400: the parameter `parameter` is unusable.
    pub fn bad(parameter: impl Into<String>, error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, Some(parameter.into()))
    }

    /// 404: no such route.
    pub fn not_found(error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error, None)
    }

    /// 500: the server failed; never caused by what the request said.
    pub fn internal(error: impl Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string(), None)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidQuery(message) => Self::new(StatusCode::BAD_REQUEST, message, None),
            other => Self::internal(format!("the store failed: {other}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
