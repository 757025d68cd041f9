//! A model folder's `manifest.json`: what the detector needs to know about a
//! model to use it, read into typed settings once per model and instance.
//! A problem names the field at fault (`decoder.family`), so the one who
//! wrote the manifest knows what to change.
//!
//! The fields read (others, such as `source` or `outputs`, are the model's
//! documentation and are left alone):
//!
//! ```json
//! {"input": {"name": "images", "shape": [1, 512, 512, 3], "layout": "NHWC",
//!            "channels": "RGB", "dtype": "float32"},
//!  "preprocess": {"resize": "letterbox", "fill": [0, 0, 0],
//!                 "mean": [0, 0, 0], "std": [1, 1, 1]},
//!  "decoder": {"family": "centernet", ...},
//!  "nms_iou": 0.4, "threshold": 0.2,
//!  "labels": {"file": "labels.txt", "count": 80}}
//! ```
//!
//! `preprocess` may repeat `channels` and `layout`, which must then agree
//! with `input`'s. The decoder's fields are each family's:
//! - `nanodet`: `strides`, `reg_max`, `scores`, `boxes` (output names), `nms`;
//! - `centernet`: `detections` (output name), `rows`, `columns` (the order
//!   of x1, y1, x2, y2, score, class in a row), `box_units`
//!   ("input pixels"), `nms`;
//! - `yolo`: `output`, `nms`;
//!
//! with `nms` "per-class" or "class-agnostic".

use crate::json::{self, Value};
use crate::postprocess::centernet::{self, CenterNet};
use crate::postprocess::nanodet::NanoDet;
use crate::postprocess::nms::Nms;
use crate::postprocess::yolo::Yolo;
use crate::postprocess::Decoder;
use crate::preprocess::{ChannelOrder, Layout, Preprocess};
use std::fmt;

/// The largest input side taken: its float tensor is 48 MiB.
pub const MAX_SIDE: u32 = 2048;

/// What a manifest says, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Name of the graph's input tensor.
    pub input: String,
    pub preprocess: Preprocess,
    pub decoder: Decoder,
    /// The model's default score threshold.
    pub threshold: f32,
    /// The labels file, beside the manifest, and how many names it has.
    pub labels_file: String,
    pub classes: usize,
}

/// A field with a value the detector cannot take (or missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// Dotted path of the field (`decoder.strides[1]`); empty for the whole.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Boxed while checking: a failed check is rare, and a one-pointer error
/// keeps every `?` small (the component is built for size).
type Checked<T> = Result<T, Box<ManifestError>>;

impl Manifest {
    /// Reads and checks a manifest's text.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Self::check(text).map_err(|e| *e)
    }

    fn check(text: &str) -> Checked<Manifest> {
        let root = json::parse(text).map_err(|message| ManifestError {
            field: String::new(),
            message,
        })?;
        let root = At {
            value: &root,
            path: String::new(),
        };
        if !matches!(root.value, Value::Object(_)) {
            return Err(root.error(format!(
                "the manifest is {}, not an object",
                root.value.kind()
            )));
        }

        let input = root.field("input")?;
        let name = input.field("name")?.name()?;
        input.field("dtype")?.choice(&["float32"])?;
        let layout_field = input.field("layout")?;
        let layout = [Layout::Nchw, Layout::Nhwc][layout_field.choice(&["NCHW", "NHWC"])?];
        let channels_field = input.field("channels")?;
        let order =
            [ChannelOrder::Rgb, ChannelOrder::Bgr][channels_field.choice(&["RGB", "BGR"])?];
        let side = input_side(&input.field("shape")?, layout)?;

        let pre = root.field("preprocess")?;
        pre.field("resize")?.choice(&["letterbox"])?;
        for want in [&channels_field, &layout_field] {
            let key = &want.path["input.".len()..];
            if let Some(given) = pre.optional(key) {
                if given.value != want.value {
                    return Err(given.error(format!(
                        "{} does not agree with {}, {}",
                        given.text(),
                        want.path,
                        want.text()
                    )));
                }
            }
        }
        let (mut fill, mut mean, mut std) = ([0u8; 3], [0f32; 3], [0f32; 3]);
        let triple = |key| pre.field(key)?.items(3, 3, "one per channel");
        for (i, v) in triple("fill")?.iter().enumerate() {
            fill[i] = v.whole(0, 255)? as u8;
        }
        for (i, v) in triple("mean")?.iter().enumerate() {
            mean[i] = v.number()?;
        }
        for (i, v) in triple("std")?.iter().enumerate() {
            std[i] = v.number()?;
            if !(std[i] > 0.0 && std[i].is_finite()) {
                return Err(v.error("is not a positive number"));
            }
        }
        let preprocess = Preprocess {
            side,
            layout,
            order,
            fill,
            mean,
            std,
        };

        let labels = root.field("labels")?;
        let file = labels.field("file")?;
        let labels_file = file.name()?;
        if labels_file.starts_with('.') || labels_file.contains(['/', '\\']) {
            return Err(file.error("is not a file name beside the manifest"));
        }
        let classes = labels.field("count")?.whole(1, 100_000)? as usize;

        let iou = root.field("nms_iou")?.fraction()?;
        let threshold = root.field("threshold")?.fraction()?;
        let decoder = decoder(&root.field("decoder")?, side, classes, iou)?;
        Ok(Manifest {
            input: name,
            preprocess,
            decoder,
            threshold,
            labels_file,
            classes,
        })
    }
}

/// The input's side from its shape: `[1, 3, S, S]` (NCHW) or
/// `[1, S, S, 3]` (NHWC).
fn input_side(shape: &At, layout: Layout) -> Checked<u32> {
    let mut dims = [0u32; 4];
    for (i, d) in shape.items(4, 4, "dimensions")?.iter().enumerate() {
        dims[i] = d.whole(1, u32::MAX)?;
    }
    let (form, side) = match (layout, dims) {
        (Layout::Nchw, [1, 3, h, w]) if h == w => ("", w),
        (Layout::Nhwc, [1, h, w, 3]) if h == w => ("", w),
        (Layout::Nchw, _) => ("[1, 3, side, side] (NCHW, square)", 0),
        (Layout::Nhwc, _) => ("[1, side, side, 3] (NHWC, square)", 0),
    };
    if !form.is_empty() {
        return Err(shape.error(format!("{dims:?} is not {form}")));
    }
    if side > MAX_SIDE {
        return Err(shape.error(format!("{dims:?}: a side over {MAX_SIDE} is not taken")));
    }
    Ok(side)
}

/// The decoder of the manifest's family, with the input's side, the
/// labels' count and the NMS overlap.
fn decoder(at: &At, side: u32, classes: usize, iou: f32) -> Checked<Decoder> {
    let family = at
        .field("family")?
        .choice(&["nanodet", "centernet", "yolo"])?;
    let per_class = at.field("nms")?.choice(&["per-class", "class-agnostic"])? == 0;
    let nms = Nms { iou, per_class };
    Ok(match family {
        0 => {
            let strides = at
                .field("strides")?
                .items(1, 8, "strides")?
                .iter()
                .map(|s| s.whole(1, side))
                .collect::<Checked<Vec<u32>>>()?;
            let reg_max = at.field("reg_max")?.whole(0, 255)? as usize;
            Decoder::NanoDet(NanoDet {
                side,
                strides,
                bins: reg_max + 1,
                classes,
                scores: at.field("scores")?.name()?,
                boxes: at.field("boxes")?.name()?,
                nms,
            })
        }
        1 => {
            let rows = at.field("rows")?.whole(1, 100_000)? as usize;
            let names = at.field("columns")?;
            let given = names.items(6, 6, "columns")?;
            let mut columns = [0; 6];
            for (column, name) in columns.iter_mut().zip(centernet::COLUMNS) {
                *column = given
                    .iter()
                    .position(|g| matches!(g.value, Value::String(s) if s == name))
                    .ok_or_else(|| names.error(format!("has no column {name}")))?;
            }
            if let Some(units) = at.optional("box_units") {
                units.choice(&["input pixels"])?;
            }
            Decoder::CenterNet(CenterNet {
                detections: at.field("detections")?.name()?,
                rows,
                columns,
                classes,
                nms,
            })
        }
        _ => Decoder::Yolo(Yolo {
            output: at.field("output")?.name()?,
            classes,
            nms,
        }),
    })
}

/// A value in the manifest and its path, for messages.
struct At<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> At<'a> {
    fn error(&self, message: impl Into<String>) -> Box<ManifestError> {
        Box::new(ManifestError {
            field: self.path.clone(),
            message: message.into(),
        })
    }

    /// The path of member `key`.
    fn member_path(&self, key: &str) -> String {
        let mut path = self.path.clone();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        path
    }

    /// Member `key`, if this is an object and has it.
    fn optional(&self, key: &str) -> Option<At<'a>> {
        self.value.get(key).map(|value| At {
            value,
            path: self.member_path(key),
        })
    }

    fn field(&self, key: &str) -> Checked<At<'a>> {
        if !matches!(self.value, Value::Object(_)) {
            return Err(self.error(format!("is {}, not an object", self.value.kind())));
        }
        self.optional(key).ok_or_else(|| {
            Box::new(ManifestError {
                field: self.member_path(key),
                message: "is missing".into(),
            })
        })
    }

    /// The value as the manifest writes it, for messages.
    fn text(&self) -> String {
        match self.value {
            Value::String(s) => format!("'{s}'"),
            other => other.kind().to_string(),
        }
    }

    fn not_a(&self, what: &str) -> Box<ManifestError> {
        self.error(format!("is {}, not {what}", self.value.kind()))
    }

    fn string(&self) -> Checked<&'a str> {
        match self.value {
            Value::String(s) => Ok(s),
            _ => Err(self.not_a("a string")),
        }
    }

    /// A name: a string that is not empty.
    fn name(&self) -> Checked<String> {
        match self.string()? {
            "" => Err(self.error("is empty")),
            s => Ok(s.to_string()),
        }
    }

    fn number(&self) -> Checked<f32> {
        match self.value {
            Value::Number(n) => Ok(*n),
            _ => Err(self.not_a("a number")),
        }
    }

    /// A number from 0 to 1.
    fn fraction(&self) -> Checked<f32> {
        let n = self.number()?;
        if (0.0..=1.0).contains(&n) {
            Ok(n)
        } else {
            Err(self.error(format!("{n} is not a number from 0 to 1")))
        }
    }

    /// A whole number from `min` to `max`.
    fn whole(&self, min: u32, max: u32) -> Checked<u32> {
        let n = self.number()?;
        if n.fract() == 0.0 && n >= min as f32 && n <= max as f32 {
            Ok(n as u32)
        } else {
            Err(self.error(format!("{n} is not a whole number from {min} to {max}")))
        }
    }

    /// The items of an array of `min` to `max` of them (`what`, for
    /// messages), each with its path.
    fn items(&self, min: usize, max: usize, what: &str) -> Checked<Vec<At<'a>>> {
        let Value::Array(items) = self.value else {
            return Err(self.not_a("an array"));
        };
        if items.len() < min || items.len() > max {
            let count = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.error(format!("has {} values, not {count} ({what})", items.len())));
        }
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| At {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// Which of `choices` the string is.
    fn choice(&self, choices: &[&str]) -> Checked<usize> {
        let given = self.string()?;
        choices
            .iter()
            .position(|c| *c == given)
            .ok_or_else(|| self.error(format!("'{given}' is not one of {}", choices.join(", "))))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// NanoDet-g 416's manifest, as models/build.sh writes it (the fields
    /// the detector reads).
    pub(crate) const NANODET: &str = r#"{
        "input": {"name": "input", "dtype": "float32", "shape": [1, 3, 416, 416],
                  "layout": "NCHW", "channels": "BGR"},
        "preprocess": {"resize": "letterbox", "fill": [0, 0, 0], "channels": "BGR",
                       "layout": "NCHW", "mean": [103.53, 116.28, 123.675],
                       "std": [57.375, 57.12, 58.395]},
        "decoder": {"family": "nanodet", "strides": [8, 16, 32], "reg_max": 10,
                    "scores": "scores", "boxes": "box_dist", "nms": "per-class"},
        "nms_iou": 0.6, "threshold": 0.35,
        "labels": {"file": "labels.txt", "count": 80}}"#;

    /// CenterNet's.
    pub(crate) const CENTERNET: &str = r#"{
        "input": {"name": "images", "dtype": "float32", "shape": [1, 512, 512, 3],
                  "layout": "NHWC", "channels": "RGB"},
        "preprocess": {"resize": "letterbox", "fill": [0, 0, 0], "channels": "RGB",
                       "layout": "NHWC", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "decoder": {"family": "centernet", "detections": "detections", "rows": 100,
                    "columns": ["x1", "y1", "x2", "y2", "score", "class"],
                    "box_units": "input pixels", "nms": "class-agnostic"},
        "nms_iou": 0.4, "threshold": 0.2,
        "labels": {"file": "labels.txt", "count": 80}}"#;

    /// A YOLO manifest as docs/models.md tells a user to write it.
    pub(crate) const YOLO: &str = r#"{
        "input": {"name": "images", "dtype": "float32", "shape": [1, 3, 640, 640],
                  "layout": "NCHW", "channels": "RGB"},
        "preprocess": {"resize": "letterbox", "fill": [114, 114, 114],
                       "mean": [0, 0, 0], "std": [255, 255, 255]},
        "decoder": {"family": "yolo", "output": "output0", "nms": "per-class"},
        "nms_iou": 0.7, "threshold": 0.25,
        "labels": {"file": "labels.txt", "count": 80}}"#;

    #[test]
    fn reads_nanodets_manifest() {
        let m = Manifest::parse(NANODET).unwrap();
        assert_eq!(m.input, "input");
        assert_eq!(m.preprocess, crate::preprocess::tests::nanodet());
        assert_eq!(
            m.decoder,
            Decoder::NanoDet(crate::postprocess::nanodet::tests::nanodet_g())
        );
        assert_eq!(
            (m.threshold, m.labels_file.as_str(), m.classes),
            (0.35, "labels.txt", 80)
        );
    }

    #[test]
    fn reads_centernets_and_yolos() {
        let m = Manifest::parse(CENTERNET).unwrap();
        assert_eq!(m.preprocess, crate::preprocess::tests::centernet());
        let Decoder::CenterNet(d) = &m.decoder else {
            panic!("{:?}", m.decoder)
        };
        assert_eq!(
            (d.rows, d.columns, d.classes),
            (100, [0, 1, 2, 3, 4, 5], 80)
        );
        assert_eq!((d.nms.iou, d.nms.per_class, m.threshold), (0.4, false, 0.2));

        let m = Manifest::parse(YOLO).unwrap();
        assert_eq!(
            (m.preprocess.side, m.preprocess.fill, m.preprocess.std),
            (640, [114; 3], [255.0; 3])
        );
        assert_eq!(
            m.decoder,
            Decoder::Yolo(Yolo {
                output: "output0".into(),
                classes: 80,
                nms: Nms {
                    iou: 0.7,
                    per_class: true
                }
            })
        );
    }

    #[test]
    fn the_manifests_models_build_sh_writes_are_read() {
        for model in ["nanodet", "centernet", "nanodet-ov", "centernet-ov"] {
            let path = format!(
                "{}/models/{model}/manifest.json",
                env!("CARGO_MANIFEST_DIR")
            );
            // Built by `make model`; the texts above stand in for them.
            if let Ok(text) = std::fs::read_to_string(&path) {
                let m = Manifest::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
                let want = if model.starts_with("nanodet") {
                    NANODET
                } else {
                    CENTERNET
                };
                assert_eq!(m, Manifest::parse(want).unwrap(), "{path}");
            }
        }
    }

    /// The manifest with `from` replaced by `to`: the error's field and a
    /// part of its message.
    fn error(base: &str, from: &str, to: &str) -> (String, String) {
        assert!(base.contains(from), "{from}");
        let e = Manifest::parse(&base.replacen(from, to, 1)).unwrap_err();
        (e.field, e.message)
    }

    #[test]
    fn problems_name_the_field() {
        for (base, from, to, field, says) in [
            (
                NANODET,
                r#""family": "nanodet""#,
                r#""family": "ssd""#,
                "decoder.family",
                "'ssd' is not one of nanodet, centernet, yolo",
            ),
            (
                NANODET,
                r#""family": "nanodet", "#,
                "",
                "decoder.family",
                "is missing",
            ),
            (
                NANODET,
                r#""threshold": 0.35,"#,
                "",
                "threshold",
                "is missing",
            ),
            (
                NANODET,
                r#""threshold": 0.35"#,
                r#""threshold": 1.5"#,
                "threshold",
                "from 0 to 1",
            ),
            (
                NANODET,
                r#""nms_iou": 0.6"#,
                r#""nms_iou": "0.6""#,
                "nms_iou",
                "a string, not a number",
            ),
            (
                NANODET,
                "[1, 3, 416, 416]",
                "[1, 416, 416, 3]",
                "input.shape",
                "[1, 3, side, side] (NCHW, square)",
            ),
            (
                NANODET,
                "[1, 3, 416, 416]",
                "[1, 3, 416, 320]",
                "input.shape",
                "(NCHW, square)",
            ),
            (
                NANODET,
                "[1, 3, 416, 416]",
                "[1, 3, 4096, 4096]",
                "input.shape",
                "over 2048",
            ),
            (
                NANODET,
                "[1, 3, 416, 416]",
                "[1, 3, 416]",
                "input.shape",
                "has 3 values, not 4",
            ),
            (
                NANODET,
                "[1, 3, 416, 416]",
                "[1, 3, 416.5, 416]",
                "input.shape[2]",
                "whole number",
            ),
            (
                NANODET,
                r#""dtype": "float32""#,
                r#""dtype": "uint8""#,
                "input.dtype",
                "'uint8' is not one of float32",
            ),
            (
                NANODET,
                r#""layout": "NCHW", "channels": "BGR"}"#,
                r#""layout": "NCWH", "channels": "BGR"}"#,
                "input.layout",
                "NCHW, NHWC",
            ),
            (
                NANODET,
                r#""channels": "BGR","#,
                r#""channels": "RGB","#,
                "preprocess.channels",
                "'RGB' does not agree with input.channels, 'BGR'",
            ),
            (
                NANODET,
                r#""resize": "letterbox""#,
                r#""resize": "stretch""#,
                "preprocess.resize",
                "not one of letterbox",
            ),
            (
                NANODET,
                "[0, 0, 0]",
                "[0, 0]",
                "preprocess.fill",
                "has 2 values, not 3 (one per channel)",
            ),
            (
                NANODET,
                "[0, 0, 0]",
                "[0, 256, 0]",
                "preprocess.fill[1]",
                "from 0 to 255",
            ),
            (
                NANODET,
                "57.12",
                "0",
                "preprocess.std[1]",
                "not a positive number",
            ),
            (
                NANODET,
                r#""strides": [8, 16, 32]"#,
                r#""strides": []"#,
                "decoder.strides",
                "has 0 values, not 1 to 8 (strides)",
            ),
            (
                NANODET,
                r#""strides": [8, 16, 32]"#,
                r#""strides": [8, 0, 32]"#,
                "decoder.strides[1]",
                "from 1 to 416",
            ),
            (
                NANODET,
                r#""reg_max": 10,"#,
                "",
                "decoder.reg_max",
                "is missing",
            ),
            (
                NANODET,
                r#""scores": "scores""#,
                r#""scores": """#,
                "decoder.scores",
                "is empty",
            ),
            (
                NANODET,
                r#""nms": "per-class""#,
                r#""nms": "soft""#,
                "decoder.nms",
                "per-class, class-agnostic",
            ),
            (
                NANODET,
                r#""file": "labels.txt""#,
                r#""file": "../labels.txt""#,
                "labels.file",
                "not a file name",
            ),
            (
                NANODET,
                r#""count": 80"#,
                r#""count": 0"#,
                "labels.count",
                "from 1 to",
            ),
            (
                NANODET,
                r#""labels": {"#,
                r#""labels": 3, "x": {"#,
                "labels",
                "a number, not an object",
            ),
            (
                CENTERNET,
                r#""rows": 100,"#,
                "",
                "decoder.rows",
                "is missing",
            ),
            (
                CENTERNET,
                r#""score", "class""#,
                r#""score", "score""#,
                "decoder.columns",
                "has no column class",
            ),
            (
                CENTERNET,
                r#""score", "class""#,
                r#""score""#,
                "decoder.columns",
                "has 5 values, not 6",
            ),
            (
                CENTERNET,
                r#""input pixels""#,
                r#""normalised""#,
                "decoder.box_units",
                "not one of input pixels",
            ),
            (
                YOLO,
                r#""output": "output0", "#,
                "",
                "decoder.output",
                "is missing",
            ),
        ] {
            let (got_field, message) = error(base, from, to);
            assert_eq!(got_field, field, "{to}: {message}");
            assert!(message.contains(says), "{to}: {message}");
        }
        let e = Manifest::parse("{\"input\": ").unwrap_err();
        assert!(
            e.field.is_empty() && e.to_string().contains("line 1"),
            "{e}"
        );
        let e = Manifest::parse("[]").unwrap_err();
        assert_eq!(e.to_string(), "the manifest is an array, not an object");
    }

    #[test]
    fn columns_in_another_order() {
        let m = Manifest::parse(&CENTERNET.replace(
            r#"["x1", "y1", "x2", "y2", "score", "class"]"#,
            r#"["score", "class", "x1", "y1", "x2", "y2"]"#,
        ))
        .unwrap();
        let Decoder::CenterNet(d) = m.decoder else {
            panic!()
        };
        assert_eq!(d.columns, [2, 3, 4, 5, 0, 1]);
    }
}
