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

/// The body parsed as a JSON object; an empty body is an empty object.
pub fn json_object_or_empty(
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, AppError> {
    let bytes = body_bytes(body)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    json_object(Ok(bytes))
}

/// An optional boolean field (absent or null is `default`).
pub fn optional_bool(
    obj: &Map<String, Value>,
    field: &str,
    default: bool,
) -> Result<bool, AppError> {
    match obj.get(field) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Null) | None => Ok(default),
        Some(_) => Err(AppError::invalid(field, "must be true or false")),
    }
}

/// A string field that may be absent (`None`) but, when present, must be a
/// string.
pub fn maybe_str<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, AppError> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Null) | None => Ok(None),
        Some(_) => Err(AppError::invalid(field, "must be a string")),
    }
}

/// One parameter of a query string (`a=1&b=2`), percent-decoding `%XX` and
/// `+`. The first occurrence wins.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    fn query_parameters_are_found_and_decoded() {
        let q = Some("token=a.b_c-d&x=1%2B1+2&empty=&bad=%zz&end=%4");
        assert_eq!(query_param(q, "token").as_deref(), Some("a.b_c-d"));
        assert_eq!(query_param(q, "x").as_deref(), Some("1+1 2"));
        assert_eq!(query_param(q, "empty").as_deref(), Some(""));
        assert_eq!(query_param(q, "bad").as_deref(), Some("%zz"));
        assert_eq!(query_param(q, "end").as_deref(), Some("%4"));
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(query_param(None, "token"), None);
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
