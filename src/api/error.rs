//! A failed request as data: its status, a stable code for programs and a
//! sentence for people, and its JSON.

use super::answers::{json_string, json_strings};
use super::body::MAX_BODY_BYTES;
use crate::decode::DecodeError;
use crate::settings;

/// A failed request: HTTP status, a stable machine-readable code and a
/// sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Methods the route takes, for the `allow` header of a 405.
    pub allow: Option<&'static str>,
    /// The models there are, for a `model_not_found`.
    pub available: Option<Vec<String>>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            allow: None,
            available: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "bad_request", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        ApiError::new(400, "invalid_parameter", message)
    }

    pub fn payload_too_large() -> Self {
        ApiError::new(
            413,
            "payload_too_large",
            format!("the body is larger than {} bytes (5 MB)", MAX_BODY_BYTES),
        )
    }

    pub fn model_unavailable(message: impl Into<String>) -> Self {
        ApiError::new(503, "model_unavailable", message)
    }

    /// A model this deployment does not serve; `available` are those it does.
    pub fn model_not_found(name: &str, available: Vec<String>) -> Self {
        ApiError {
            available: Some(available.clone()),
            ..ApiError::new(
                404,
                "model_not_found",
                format!(
                    "there is no model '{name}'; this deployment serves {} (GET /models describes them)",
                    available.join(", ")
                ),
            )
        }
    }

    /// The engine failed: the detector's upstream, whether the host's or,
    /// composed, a v2 inference server's, so a 502.
    pub fn inference_failed(message: impl Into<String>) -> Self {
        ApiError::new(502, "inference_failed", message)
    }

    pub fn invalid_setting(e: &settings::SettingError) -> Self {
        ApiError::new(500, "invalid_setting", e.to_string())
    }

    /// `{"code": ..., "message": ...}`, and `"available": [...]` with a
    /// `model_not_found`.
    pub fn to_json(&self) -> Vec<u8> {
        let available = match &self.available {
            Some(names) => format!(r#","available":{}"#, json_strings(names)),
            None => String::new(),
        };
        format!(
            r#"{{"code":{},"message":{}{available}}}"#,
            json_string(self.code),
            json_string(&self.message)
        )
        .into_bytes()
    }
}

impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::TooManyPixels { .. } | DecodeError::NoMemory { .. } => {
                ApiError::new(413, "image_too_large", e.to_string())
            }
            DecodeError::WrongFormat { .. } | DecodeError::Corrupt { .. } => {
                ApiError::new(422, "invalid_image", e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Format;

    #[test]
    fn error_json_and_decode_error_statuses() {
        let e = ApiError::bad_request("the body is \"empty\"");
        assert_eq!(
            String::from_utf8(e.to_json()).unwrap(),
            r#"{"code":"bad_request","message":"the body is \"empty\""}"#
        );
        let bomb: ApiError = DecodeError::TooManyPixels {
            width: 1,
            height: 1,
        }
        .into();
        assert_eq!(bomb.status, 413);
        let corrupt: ApiError = DecodeError::Corrupt {
            format: Format::Png,
            reason: "x".into(),
        }
        .into();
        assert_eq!((corrupt.status, corrupt.code), (422, "invalid_image"));
        let no_memory: ApiError = DecodeError::NoMemory {
            width: 8000,
            height: 4000,
            need: 196 << 20,
            available: 98 << 20,
        }
        .into();
        assert_eq!((no_memory.status, no_memory.code), (413, "image_too_large"));
        assert!(
            no_memory.message.contains("about 196 MiB")
                && no_memory.message.contains("98 MiB free")
                && no_memory.message.contains("about 16.0 megapixels"),
            "{}",
            no_memory.message
        );
        let missing = ApiError::model_not_found("yolo", vec!["centernet".into(), "nanodet".into()]);
        assert_eq!(missing.status, 404);
        let json: serde_json::Value = serde_json::from_slice(&missing.to_json()).unwrap();
        assert_eq!(json["code"], "model_not_found");
        assert_eq!(
            json["available"],
            serde_json::json!(["centernet", "nanodet"])
        );
        assert!(
            json["message"].as_str().unwrap().contains("'yolo'"),
            "{json}"
        );
    }
}
