//! The HTTP API as plain data. The component glues it to the host's request
//! and response types; everything here is host-free. One module a job:
//! - [`routes`]: which route a method and path ask for;
//! - [`body`]: the upload's content type, length and bytes;
//! - [`query`]: the query parameters of `/predict` and `/warm`;
//! - [`files`]: files served as they are (private mode's, the models', the
//!   example photos), with their caching and gzip;
//! - [`answers`]: the JSON of answers;
//! - [`error`]: a failed request and its JSON.

pub mod answers;
pub mod body;
pub mod error;
pub mod files;
pub mod query;
pub mod routes;

pub use answers::{
    detections_json, models_json, AnswerFormat, ModelFacts, ModelSummary, WarmReport,
};
pub use body::{content_length, image_format, BodyBuffer, MAX_BODY_BYTES};
pub use error::ApiError;
pub use files::{
    accepts_gzip, etag, etag_matches, example_type, examples_json, Coding, StaticFile, IMMUTABLE,
    REVALIDATE,
};
pub use query::{predict_query, warm_query, PredictQuery};
pub use routes::{route, Route, EXAMPLES_PATH};

/// The 80 COCO class names of the NanoDet folder, for the modules' tests.
#[cfg(test)]
fn coco() -> crate::labels::Labels {
    crate::labels::Labels::parse(include_str!("../../models/nanodet/labels.txt"))
}
