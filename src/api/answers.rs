//! The JSON of successful answers: the detections (ours or Hugging Face's),
//! the model list and `/warm`'s report, and the JSON writing they share.

use crate::decimal;
use crate::labels::Labels;
use crate::postprocess::Detection;

/// How `/predict` writes the detections (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFormat {
    /// Ours: `{"bbox": [{"x", "y"}, {"x", "y"}], "class", "score"}`.
    Detect,
    /// Hugging Face's object-detection pipeline's, which Cloudflare Workers
    /// AI answers too: `{"score", "label", "box": {"xmin", "ymin", "xmax",
    /// "ymax"}}`.
    HuggingFace,
}
/// A JSON string literal: quotes, backslashes and control characters escaped.
pub(super) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON array of strings.
pub(super) fn json_strings<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| json_string(s.as_ref())).collect();
    format!("[{}]", items.join(","))
}

/// A JSON number: `v` rounded to `places` decimal places, as the shortest
/// text that reads back as the rounded value (`512.0` keeps its point, as
/// most JSON writers do); `null` for what JSON cannot hold.
fn json_number(v: f32, places: u32) -> String {
    decimal::rounded(f64::from(v), places).unwrap_or_else(|| "null".into())
}

/// The detections as JSON, best first, corners to 0.01 px and scores to
/// 0.001, in `format`:
/// - ours: `[{"bbox":[{"x":..,"y":..},{"x":..,"y":..}],"class":..,"score":..}, ...]`;
/// - Hugging Face's: `[{"score":..,"label":..,"box":{"xmin":..,"ymin":..,"xmax":..,"ymax":..}}, ...]`.
pub fn detections_json(detections: &[Detection], labels: &Labels, format: AnswerFormat) -> Vec<u8> {
    let n = json_number;
    let items: Vec<String> = detections
        .iter()
        .map(|d| {
            let (class, score) = (json_string(&labels.name(d.class)), n(d.score, 3));
            let [x1, y1, x2, y2] = [d.x1, d.y1, d.x2, d.y2].map(|v| n(v, 2));
            match format {
                AnswerFormat::Detect => format!(
                    r#"{{"bbox":[{{"x":{x1},"y":{y1}}},{{"x":{x2},"y":{y2}}}],"class":{class},"score":{score}}}"#
                ),
                AnswerFormat::HuggingFace => format!(
                    r#"{{"score":{score},"label":{class},"box":{{"xmin":{x1},"ymin":{y1},"xmax":{x2},"ymax":{y2}}}}}"#
                ),
            }
        })
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

/// A served model as `GET /models` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    pub name: String,
    /// What it is, or why it cannot be used.
    pub model: Result<ModelFacts, String>,
}

/// What a client needs to know of a model to call it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFacts {
    pub family: &'static str,
    pub input_size: u32,
    pub classes: usize,
    /// The default `threshold` of `/predict` with this model.
    pub threshold: f32,
}

/// `{"default": ..., "models": [{"name", "family", "input_size", "classes",
/// "threshold"} or {"name", "error"}, ...]}`.
pub fn models_json(default: &str, models: &[ModelSummary]) -> Vec<u8> {
    let items: Vec<String> = models
        .iter()
        .map(|m| match &m.model {
            Ok(f) => format!(
                r#"{{"name":{},"family":{},"input_size":{},"classes":{},"threshold":{}}}"#,
                json_string(&m.name),
                json_string(f.family),
                f.input_size,
                f.classes,
                json_number(f.threshold, 3)
            ),
            Err(e) => format!(
                r#"{{"name":{},"error":{}}}"#,
                json_string(&m.name),
                json_string(e)
            ),
        })
        .collect();
    format!(
        r#"{{"default":{},"models":[{}]}}"#,
        json_string(default),
        items.join(",")
    )
    .into_bytes()
}

/// What `/warm` reports.
#[derive(Debug)]
pub struct WarmReport {
    pub model: String,
    /// How the graph was obtained: `load-by-name` or the file it was read from.
    pub source: String,
    /// Whether this call loaded it (false: the instance already had it).
    pub loaded_now: bool,
    pub load_ms: f64,
    pub inference_ms: f64,
    /// The instance's linear memory. It only grows, so this is the peak of
    /// every request the instance has served.
    pub memory_bytes: u64,
    /// How many requests the instance has taken, this one included: 1 where
    /// the host makes an instance per request (Spin with WASIp2), more where
    /// it reuses them.
    pub instance_requests: u64,
}

impl WarmReport {
    pub fn to_json(&self) -> Vec<u8> {
        format!(
            r#"{{"model":{},"source":{},"loaded_now":{},"load_ms":{},"inference_ms":{},"memory_bytes":{},"instance_requests":{}}}"#,
            json_string(&self.model),
            json_string(&self.source),
            self.loaded_now,
            json_number(self.load_ms as f32, 2),
            json_number(self.inference_ms as f32, 2),
            self.memory_bytes,
            self.instance_requests
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::coco;

    #[test]
    fn json_strings_and_numbers_read_back() {
        for text in [
            "plain",
            "quote \" and \\ back",
            "tab\tnew\nline\r",
            "\u{1}\u{1f}",
            "é ✓",
        ] {
            let back: String = serde_json::from_str(&json_string(text)).unwrap();
            assert_eq!(back, text);
        }
        for v in [0.0, 512.0, 205.61, 0.736, -3.5, 123456.78] {
            let back: f64 = serde_json::from_str(&json_number(v, 2)).unwrap();
            assert_eq!(back, (f64::from(v) * 100.0).round() / 100.0);
        }
        assert_eq!(json_number(512.0, 2), "512.0");
        assert_eq!(json_number(f32::NAN, 2), "null");
    }

    #[test]
    fn detection_json_shape_and_rounding() {
        let d = Detection {
            class: 4,
            score: 0.736_21,
            x1: 205.613,
            y1: 315.36,
            x2: 302.979,
            y2: 345.72,
        };
        let json = |format| String::from_utf8(detections_json(&[d], &coco(), format)).unwrap();
        assert_eq!(
            json(AnswerFormat::Detect),
            r#"[{"bbox":[{"x":205.61,"y":315.36},{"x":302.98,"y":345.72}],"class":"airplane","score":0.736}]"#
        );
        assert_eq!(
            json(AnswerFormat::HuggingFace),
            r#"[{"score":0.736,"label":"airplane","box":{"xmin":205.61,"ymin":315.36,"xmax":302.98,"ymax":345.72}}]"#
        );
        assert_eq!(
            detections_json(&[], &coco(), AnswerFormat::HuggingFace),
            b"[]"
        );
    }

    #[test]
    fn the_model_list() {
        let models = [
            ModelSummary {
                name: "centernet".into(),
                model: Ok(ModelFacts {
                    family: "centernet",
                    input_size: 512,
                    classes: 80,
                    threshold: 0.2,
                }),
            },
            ModelSummary {
                name: "broken".into(),
                model: Err("/models/broken/manifest.json: threshold: is missing".into()),
            },
        ];
        assert_eq!(
            String::from_utf8(models_json("nanodet", &models)).unwrap(),
            r#"{"default":"nanodet","models":[{"name":"centernet","family":"centernet","input_size":512,"classes":80,"threshold":0.2},{"name":"broken","error":"/models/broken/manifest.json: threshold: is missing"}]}"#
        );
    }
}
