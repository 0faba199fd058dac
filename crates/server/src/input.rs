//! Reading JSON request bodies field by field, so every `invalid_input`
//! message names the field at fault.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::AppError;

/// The body as bytes, mapping an oversized body to `payload_too_large`.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, AppError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::invalid("body", "could not be read")
        }
    })
}

/// The body parsed as a JSON object.
pub fn json_object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, AppError> {
    let bytes = body_bytes(body)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AppError::invalid("body", "must be a JSON object")),
    }
}

/// A required string field.
pub fn required_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str, AppError> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Null) | None => Err(AppError::invalid(field, "is required")),
        Some(_) => Err(AppError::invalid(field, "must be a string")),
    }
}

/// An optional string field, trimmed, at most `max_chars` characters.
pub fn optional_str(
    obj: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<String, AppError> {
    match obj.get(field) {
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > max_chars {
                return Err(AppError::invalid(
                    field,
                    &format!("must be at most {max_chars} characters"),
                ));
            }
            Ok(s.to_owned())
        }
        Some(Value::Null) | None => Ok(String::new()),
        Some(_) => Err(AppError::invalid(field, "must be a string")),
    }
}

/// Trims and lower-cases an email; it must contain `@` with text on both
/// sides.
pub fn email(obj: &Map<String, Value>) -> Result<String, AppError> {
    let email = required_str(obj, "email")?.trim().to_lowercase();
    let valid = match email.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && email.chars().count() <= 254
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !valid {
        return Err(AppError::invalid(
            "email",
            "must look like name@example.com",
        ));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            email(&obj(json!({"email": "  Ann@Example.COM "}))).unwrap(),
            "ann@example.com"
        );
        for bad in ["", "ann", "@example.com", "ann@", "a nn@example.com"] {
            let err = email(&obj(json!({ "email": bad })))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("email:"), "{bad:?}: {err}");
        }
        assert!(email(&obj(json!({})))
            .unwrap_err()
            .to_string()
            .starts_with("email:"));
    }
}
