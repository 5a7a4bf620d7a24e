//! The handlers, one module per surface.

pub mod me;
pub mod ops;
pub mod read;
pub mod record;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;

use super::errors::ApiError;
use crate::runtime::validate_city_name;

/// The `{city}` of a path, checked (it becomes a storage namespace).
fn city_name(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(city) = path.map_err(|e| ApiError::invalid("city", e.body_text()))?;
    validate_city_name(&city).map_err(|e| ApiError::invalid("city", e.to_string()))?;
    Ok(city)
}
