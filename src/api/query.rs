//! The query parameters of `/predict` and `/warm`, checked and decoded.

use super::answers::AnswerFormat;
use super::error::ApiError;
use crate::labels::Labels;
use crate::postprocess::Filter;
use crate::settings;

/// A `/predict` query, before it is checked against the model it names.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictQuery {
    pub model: Option<String>,
    pub threshold: Option<f32>,
    pub max: Option<usize>,
    /// The overlap at which boxes suppress each other, over the model's.
    pub iou: Option<f32>,
    /// Class names, as given.
    pub classes: Option<Vec<String>>,
    pub format: AnswerFormat,
}

/// The decoded `name=value` pairs of a query; empty pairs are skipped, a
/// repeated name is a 400.
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(raw_key)?;
        let value = percent_decode(raw_value)?;
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(ApiError::invalid_parameter(format!(
                "'{key}' is given more than once"
            )));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// The `/predict` query: `model`, `threshold`, `max`, `iou`, `classes`,
/// `format`.
pub fn predict_query(query: &str) -> Result<PredictQuery, ApiError> {
    let mut q = PredictQuery {
        model: None,
        threshold: None,
        max: None,
        iou: None,
        classes: None,
        format: AnswerFormat::Detect,
    };
    for (key, value) in query_pairs(query)? {
        let bad = |m: String| ApiError::invalid_parameter(format!("{key}: {m}"));
        match key.as_str() {
            "model" => q.model = Some(value),
            "threshold" => q.threshold = Some(settings::threshold(&value).map_err(bad)?),
            "max" => q.max = Some(settings::max_detections(&value).map_err(bad)?),
            "iou" => q.iou = Some(settings::threshold(&value).map_err(bad)?),
            "classes" => q.classes = Some(class_names(&value)?),
            "format" => {
                q.format = match value.as_str() {
                    "detect" => AnswerFormat::Detect,
                    "hf" => AnswerFormat::HuggingFace,
                    _ => return Err(bad(format!("'{value}' is not a format: detect (the default) or hf"))),
                }
            }
            _ => {
                return Err(ApiError::invalid_parameter(format!(
                    "unknown query parameter '{key}'; /predict takes model, threshold, max, iou, classes and format"
                )))
            }
        }
    }
    Ok(q)
}

/// The `/warm` query: the model to warm, if not the default.
pub fn warm_query(query: &str) -> Result<Option<String>, ApiError> {
    let mut model = None;
    for (key, value) in query_pairs(query)? {
        match key.as_str() {
            "model" => model = Some(value),
            _ => {
                return Err(ApiError::invalid_parameter(format!(
                    "unknown query parameter '{key}'; /warm takes model"
                )))
            }
        }
    }
    Ok(model)
}

impl PredictQuery {
    /// What to keep of a model's detections: the query's values over the
    /// defaults, its class names looked up in the model's labels.
    pub fn filter(&self, labels: &Labels, threshold: f32, max: usize) -> Result<Filter, ApiError> {
        let classes = match &self.classes {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| {
                        labels.id(n).ok_or_else(|| {
                            ApiError::invalid_parameter(format!(
                                "classes: '{n}' is not a class of the model (e.g. {})",
                                labels.examples(4).join(", ")
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Filter {
            threshold: self.threshold.unwrap_or(threshold),
            max: self.max.unwrap_or(max),
            classes,
            iou: self.iou,
        })
    }
}

/// The names of a `classes` list: comma-separated, at least one.
fn class_names(list: &str) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(ApiError::invalid_parameter(
            "classes: give one or more class names, comma-separated",
        ));
    }
    Ok(names)
}

/// Decodes `%XX` escapes and `+` (space) of a query component.
fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    // Checked first: `from_str_radix` alone takes a sign ("%+c").
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::invalid_parameter(format!("bad %-escape in '{s}'")))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::invalid_parameter(format!("'{s}' is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::coco;

    /// The filter of a query against the COCO labels, defaults 0.35 and 20.
    fn filter(query: &str) -> Result<Filter, ApiError> {
        predict_query(query)?.filter(&coco(), 0.35, 20)
    }

    #[test]
    fn query_parameters() {
        let f = filter("").unwrap();
        assert_eq!((f.threshold, f.max, f.classes), (0.35, 20, None));
        let f = filter("threshold=0.5&max=3&classes=person,traffic%20light,Dog").unwrap();
        assert_eq!(
            (f.threshold, f.max, f.classes),
            (0.5, 3, Some(vec![0, 9, 16]))
        );
        let f = filter("classes=cell+phone").unwrap();
        assert_eq!((f.classes, f.iou), (Some(vec![67]), None));
        assert_eq!(filter("iou=0.3").unwrap().iou, Some(0.3));
        let q = predict_query("model=centernet&format=hf").unwrap();
        assert_eq!(
            (q.model.as_deref(), q.format),
            (Some("centernet"), AnswerFormat::HuggingFace)
        );
        assert_eq!(
            predict_query("format=detect").unwrap().format,
            AnswerFormat::Detect
        );
        for bad in [
            "threshold=2",
            "threshold=abc",
            "threshold=-0.1",
            "max=0",
            "max=1000",
            "max=1.5",
            "iou=1.1",
            "iou=-0.5",
            "iou=nan",
            "classes=unicorn",
            "classes=",
            "classes=%zz",
            "treshold=0.5",
            "max=3&max=4",
            "model=a&model=b",
            "format=json",
        ] {
            let e = filter(bad).unwrap_err();
            assert_eq!((e.status, e.code), (400, "invalid_parameter"), "{bad}");
        }
        // An unknown class is told with the model's own names.
        let e = filter("classes=unicorn").unwrap_err();
        assert!(e.message.contains("person, bicycle"), "{}", e.message);
        let few = Labels::parse("cat\ndog\n");
        let e = predict_query("classes=person")
            .unwrap()
            .filter(&few, 0.2, 20)
            .unwrap_err();
        assert!(e.message.contains("(e.g. cat, dog)"), "{}", e.message);
    }

    #[test]
    fn warm_takes_a_model_only() {
        assert_eq!(warm_query(""), Ok(None));
        assert_eq!(warm_query("model=centernet"), Ok(Some("centernet".into())));
        for bad in ["threshold=0.5", "model=a&model=b", "model=%zz"] {
            assert_eq!(warm_query(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn percent_escapes_are_two_hex_digits() {
        assert_eq!(percent_decode("a%2Cb%2c+c").unwrap(), "a,b, c");
        for bad in ["%+c", "%+9", "%-1", "% 1", "%1", "%"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
        // "%+c" would be a form feed, which the class list trims away.
        let e = filter("classes=Dog%+c").unwrap_err();
        assert_eq!((e.status, e.code), (400, "invalid_parameter"));
    }
}
