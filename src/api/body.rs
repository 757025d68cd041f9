//! A `/predict` request's body: its content type, its declared length and
//! its bytes, refused as soon as they pass the limit.

use super::error::ApiError;
use crate::decode::Format;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// The image format of a `content-type` header (parameters allowed), or 415.
pub fn image_format(content_type: Option<&str>) -> Result<Format, ApiError> {
    let unsupported = |what: String| {
        ApiError::new(
            415,
            "unsupported_media_type",
            format!("{what}; send the image as image/jpeg or image/png"),
        )
    };
    let Some(value) = content_type else {
        return Err(unsupported("the request has no content-type".into()));
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Ok(Format::Jpeg),
        "image/png" => Ok(Format::Png),
        _ => Err(unsupported(format!(
            "content-type {value} is not supported"
        ))),
    }
}

/// The declared body size: 413 when over the limit, 400 when not a number.
pub fn content_length(value: Option<&str>) -> Result<Option<usize>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    match value.trim().parse::<u64>() {
        Ok(n) if n > MAX_BODY_BYTES as u64 => Err(ApiError::payload_too_large()),
        Ok(n) => Ok(Some(n as usize)),
        Err(_) => Err(ApiError::bad_request(format!(
            "content-length '{value}' is not a number"
        ))),
    }
}

/// Collects a body chunk by chunk, refusing it as soon as it passes the
/// limit, so an oversized upload is never held in memory whole.
#[derive(Debug, Default)]
pub struct BodyBuffer {
    bytes: Vec<u8>,
}

impl BodyBuffer {
    /// A buffer sized for a body that says it is `expected` bytes.
    pub fn with_expected(expected: Option<usize>) -> Self {
        let mut bytes = Vec::new();
        // Fallibly: an instance short of memory refuses the body in `push`.
        let _ = bytes.try_reserve_exact(expected.unwrap_or(0).min(MAX_BODY_BYTES));
        BodyBuffer { bytes }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if self.bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large());
        }
        // The host may cap the instance's memory below what a body takes:
        // a refusal, not an abort.
        self.bytes.try_reserve(chunk.len()).map_err(|_| {
            ApiError::new(
                413,
                "payload_too_large",
                format!(
                    "this instance has no memory left for a body of over {} bytes; \
                     send a smaller image",
                    self.bytes.len()
                ),
            )
        })?;
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The whole body; an empty one is a 400.
    pub fn finish(self) -> Result<Vec<u8>, ApiError> {
        if self.bytes.is_empty() {
            return Err(ApiError::bad_request(
                "the body is empty; send the image bytes as the body",
            ));
        }
        Ok(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_with_parameters_and_case() {
        assert_eq!(image_format(Some("image/jpeg")), Ok(Format::Jpeg));
        assert_eq!(
            image_format(Some("Image/PNG; charset=binary")),
            Ok(Format::Png)
        );
        for bad in [
            None,
            Some("image/gif"),
            Some("application/octet-stream"),
            Some(""),
        ] {
            let e = image_format(bad).unwrap_err();
            assert_eq!((e.status, e.code), (415, "unsupported_media_type"));
        }
    }

    #[test]
    fn content_length_limits() {
        assert_eq!(content_length(None), Ok(None));
        assert_eq!(content_length(Some("10")), Ok(Some(10)));
        assert_eq!(content_length(Some("5242881")).unwrap_err().status, 413);
        assert_eq!(content_length(Some("ten")).unwrap_err().status, 400);
    }

    #[test]
    fn body_buffer_stops_at_the_limit_and_refuses_empty() {
        let mut b = BodyBuffer::with_expected(None);
        b.push(&vec![0; MAX_BODY_BYTES - 1]).unwrap();
        b.push(&[0]).unwrap();
        assert_eq!(b.push(&[0]).unwrap_err().status, 413);
        assert_eq!(BodyBuffer::default().finish().unwrap_err().status, 400);
    }
}
