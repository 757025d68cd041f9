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
//! `preprocess.resize` is "letterbox" (with `fill`) or "stretch" (the whole
//! frame to the square); an optional `filter` is "bilinear" (Pillow's, the
//! default) or "tf-bilinear" (TensorFlow's `ResizeBilinear`, no
//! antialiasing). `preprocess` may repeat `channels` and `layout`, which
//! must then agree with `input`'s. `labels.ids`, optional, gives each
//! label's category id where the model's score columns are ids rather than
//! label lines (COCO's 90 ids for 80 classes). The decoder's fields are
//! each family's:
//! - `nanodet`: `strides`, `reg_max`, `scores`, `boxes` (output names), `nms`;
//! - `centernet`: `detections` (output name), `rows`, `columns` (the order
//!   of x1, y1, x2, y2, score, class in a row), `box_units`
//!   ("input pixels"), `nms`;
//! - `yolo`: `output`, `nms`;
//! - `ssd`: `scores`, `boxes` (output names), `anchors`, `columns` (score
//!   columns), `box_order` (where xmin, ymin, xmax, ymax are), `box_units`
//!   ("normalized" or "input pixels"), `first_class_id` (the id of column
//!   0, with `labels.ids`), `nms`;
//!
//! with `nms` "per-class" or "class-agnostic".

use crate::json::{self, Value};
use crate::postprocess::centernet::{self, CenterNet};
use crate::postprocess::nanodet::NanoDet;
use crate::postprocess::nms::Nms;
use crate::postprocess::ssd::{self, BoxUnits, Ssd};
use crate::postprocess::yolo::Yolo;
use crate::postprocess::Decoder;
use crate::preprocess::{ChannelOrder, Dtype, Filter, Fit, Layout, Preprocess};
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
        let dtype =
            [Dtype::Float32, Dtype::Uint8][input.field("dtype")?.choice(&["float32", "uint8"])?];
        let layout_field = input.field("layout")?;
        let layout = [Layout::Nchw, Layout::Nhwc][layout_field.choice(&["NCHW", "NHWC"])?];
        let channels_field = input.field("channels")?;
        let order =
            [ChannelOrder::Rgb, ChannelOrder::Bgr][channels_field.choice(&["RGB", "BGR"])?];
        let side = input_side(&input.field("shape")?, layout)?;

        let pre = root.field("preprocess")?;
        let fit = [Fit::Letterbox, Fit::Stretch]
            [pre.field("resize")?.choice(&["letterbox", "stretch"])?];
        let filter = match pre.optional("filter") {
            None => Filter::Pillow,
            Some(f) => {
                [Filter::Pillow, Filter::TensorFlow][f.choice(&["bilinear", "tf-bilinear"])?]
            }
        };
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
        // A stretch pads nothing: its fill may be left out.
        if fit == Fit::Letterbox || pre.optional("fill").is_some() {
            for (i, v) in triple("fill")?.iter().enumerate() {
                fill[i] = v.whole(0, 255)? as u8;
            }
        }
        if dtype == Dtype::Uint8 {
            // The graph normalises: numbers here would say otherwise.
            if let Some(given) = pre.optional("mean").or(pre.optional("std")) {
                return Err(given.error("is for a float32 input; the graph normalises a uint8 one"));
            }
        } else {
            for (i, v) in triple("mean")?.iter().enumerate() {
                mean[i] = v.number()?;
            }
            for (i, v) in triple("std")?.iter().enumerate() {
                std[i] = v.number()?;
                if !(std[i] > 0.0 && std[i].is_finite()) {
                    return Err(v.error("is not a positive number"));
                }
            }
        }
        let preprocess = Preprocess {
            side,
            fit,
            filter,
            layout,
            order,
            fill,
            dtype,
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
        let ids = match labels.optional("ids") {
            None => None,
            Some(ids) => Some(
                ids.items(classes, classes, "one per label")?
                    .iter()
                    .map(|id| id.whole(0, 100_000))
                    .collect::<Checked<Vec<u32>>>()?,
            ),
        };

        let iou = root.field("nms_iou")?.fraction()?;
        let threshold = root.field("threshold")?.fraction()?;
        let decoder = decoder(&root.field("decoder")?, side, classes, ids.as_deref(), iou)?;
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
/// labels' count and category ids, and the NMS overlap.
fn decoder(at: &At, side: u32, classes: usize, ids: Option<&[u32]>, iou: f32) -> Checked<Decoder> {
    let family = at
        .field("family")?
        .choice(&["nanodet", "centernet", "yolo", "ssd"])?;
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
        2 => Decoder::Yolo(Yolo {
            output: at.field("output")?.name()?,
            classes,
            nms,
        }),
        _ => Decoder::Ssd(ssd_head(at, classes, ids, nms)?),
    })
}

/// An SSD head's fields; its score columns are mapped to labels by the
/// labels' ids (`first_class_id` onwards) or, without ids, one to one.
fn ssd_head(at: &At, classes: usize, ids: Option<&[u32]>, nms: Nms) -> Checked<Ssd> {
    let anchors = at.field("anchors")?.whole(1, 1_000_000)? as usize;
    let columns_field = at.field("columns")?;
    let columns = columns_field.whole(1, 100_000)? as usize;
    let order = at.field("box_order")?;
    let given = order.items(4, 4, "corners")?;
    let mut box_order = [0; 4];
    for (place, name) in box_order.iter_mut().zip(ssd::CORNERS) {
        *place = given
            .iter()
            .position(|g| matches!(g.value, Value::String(s) if s == name))
            .ok_or_else(|| order.error(format!("has no corner {name}")))?;
    }
    let box_units = [BoxUnits::Normalized, BoxUnits::InputPixels][at
        .field("box_units")?
        .choice(&["normalized", "input pixels"])?];
    let column_classes = match ids {
        Some(ids) => {
            let first = at.field("first_class_id")?.whole(0, 100_000)?;
            (0..columns as u32)
                .map(|c| ids.iter().position(|&id| id == first + c))
                .collect()
        }
        None if columns == classes => (0..classes).map(Some).collect(),
        None => {
            return Err(columns_field.error(format!(
                "{columns} score columns for {classes} labels: labels.ids must say which is which"
            )))
        }
    };
    Ok(Ssd {
        scores: at.field("scores")?.name()?,
        boxes: at.field("boxes")?.name()?,
        anchors,
        box_order,
        box_units,
        column_classes,
        nms,
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
            Err(self.error(format!("{} is not a number from 0 to 1", shown(n))))
        }
    }

    /// A whole number from `min` to `max`.
    fn whole(&self, min: u32, max: u32) -> Checked<u32> {
        let n = self.number()?;
        if n.fract() == 0.0 && n >= min as f32 && n <= max as f32 {
            Ok(n as u32)
        } else {
            Err(self.error(format!(
                "{} is not a whole number from {min} to {max}",
                shown(n)
            )))
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

/// A number from a manifest, as decimal text (to 0.000001).
fn shown(n: f32) -> String {
    crate::decimal::rounded(f64::from(n), 6).unwrap_or_else(|| "a number".into())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// NanoDet-g 416's manifest, as models/build.sh writes it (the fields
    /// the detector reads): uint8 pixels, normalised by its graph.
    pub(crate) const NANODET: &str = r#"{
        "input": {"name": "input", "dtype": "uint8", "shape": [1, 3, 416, 416],
                  "layout": "NCHW", "channels": "BGR"},
        "preprocess": {"resize": "letterbox", "fill": [0, 0, 0], "channels": "BGR",
                       "layout": "NCHW"},
        "decoder": {"family": "nanodet", "strides": [8, 16, 32], "reg_max": 10,
                    "scores": "scores", "boxes": "box_dist", "nms": "per-class"},
        "nms_iou": 0.6, "threshold": 0.35,
        "labels": {"file": "labels.txt", "count": 80}}"#;

    /// The same model normalised by the detector, as its graph did before
    /// it took uint8 (`models/tfjs_graph.py`, `normalise`).
    pub(crate) const NANODET_FLOAT32: &str = r#"{
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
        "input": {"name": "images", "dtype": "uint8", "shape": [1, 512, 512, 3],
                  "layout": "NHWC", "channels": "RGB"},
        "preprocess": {"resize": "letterbox", "fill": [0, 0, 0], "channels": "RGB",
                       "layout": "NHWC"},
        "decoder": {"family": "centernet", "detections": "detections", "rows": 100,
                    "columns": ["x1", "y1", "x2", "y2", "score", "class"],
                    "box_units": "input pixels", "nms": "class-agnostic"},
        "nms_iou": 0.4, "threshold": 0.2,
        "labels": {"file": "labels.txt", "count": 80}}"#;

    /// coco-ssd's (SSDLite MobileNetV2), with its sparse COCO ids.
    pub(crate) const COCO_SSD: &str = r#"{
        "input": {"name": "image", "dtype": "uint8", "shape": [1, 300, 300, 3],
                  "layout": "NHWC", "channels": "RGB"},
        "preprocess": {"resize": "stretch", "filter": "tf-bilinear", "channels": "RGB",
                       "layout": "NHWC"},
        "decoder": {"family": "ssd", "scores": "scores", "boxes": "boxes", "anchors": 1917,
                    "columns": 90, "box_order": ["ymin", "xmin", "ymax", "xmax"],
                    "box_units": "normalized", "first_class_id": 1, "nms": "class-agnostic"},
        "nms_iou": 0.5, "threshold": 0.5,
        "labels": {"file": "labels.txt", "count": 80, "ids": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
            11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35,
            36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
            58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82,
            84, 85, 86, 87, 88, 89, 90]}}"#;

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
        let float32 = crate::preprocess::tests::nanodet();
        let uint8 = Preprocess {
            dtype: Dtype::Uint8,
            mean: [0.0; 3],
            std: [0.0; 3],
            ..float32.clone()
        };
        assert_eq!(m.preprocess, uint8);
        assert_eq!(
            Manifest::parse(NANODET_FLOAT32).unwrap().preprocess,
            float32
        );
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
    fn reads_coco_ssds_stretch_and_sparse_ids() {
        let m = Manifest::parse(COCO_SSD).unwrap();
        assert_eq!(
            (m.preprocess.side, m.preprocess.fit, m.preprocess.filter),
            (300, Fit::Stretch, Filter::TensorFlow)
        );
        assert_eq!(
            m.decoder,
            Decoder::Ssd(crate::postprocess::ssd::tests::coco_ssd())
        );
        let Decoder::Ssd(d) = &m.decoder else {
            unreachable!()
        };
        // Column 0 is id 1, person; id 12 (column 11) names nothing; id 90
        // (the last column) is toothbrush, the 80th label.
        assert_eq!(
            (
                d.column_classes[0],
                d.column_classes[11],
                d.column_classes[89]
            ),
            (Some(0), None, Some(79))
        );
        assert_eq!(d.column_classes.iter().flatten().count(), 80);
        assert_eq!((m.threshold, d.nms.iou, d.nms.per_class), (0.5, 0.5, false));
    }

    #[test]
    fn reads_centernets_and_yolos() {
        let m = Manifest::parse(CENTERNET).unwrap();
        let pixels = Preprocess {
            dtype: Dtype::Uint8,
            mean: [0.0; 3],
            std: [0.0; 3],
            ..crate::preprocess::tests::centernet()
        };
        assert_eq!(m.preprocess, pixels);
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
        for model in [
            "nanodet",
            "centernet",
            "coco-ssd",
            "nanodet-ov",
            "centernet-ov",
            "coco-ssd-ov",
        ] {
            let path = format!(
                "{}/models/{model}/manifest.json",
                env!("CARGO_MANIFEST_DIR")
            );
            // Built by `make model`; the texts above stand in for them.
            if let Ok(text) = std::fs::read_to_string(&path) {
                let m = Manifest::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
                let want = match model.split('-').next() {
                    Some("nanodet") => NANODET,
                    Some("centernet") => CENTERNET,
                    _ => COCO_SSD,
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
                r#""family": "detr""#,
                "decoder.family",
                "'detr' is not one of nanodet, centernet, yolo, ssd",
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
                NANODET_FLOAT32,
                r#""dtype": "float32""#,
                r#""dtype": "int8""#,
                "input.dtype",
                "'int8' is not one of float32, uint8",
            ),
            (
                NANODET_FLOAT32,
                r#""dtype": "float32""#,
                r#""dtype": "uint8""#,
                "preprocess.mean",
                "is for a float32 input; the graph normalises a uint8 one",
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
                r#""resize": "crop""#,
                "preprocess.resize",
                "'crop' is not one of letterbox, stretch",
            ),
            (
                NANODET,
                r#""resize": "letterbox""#,
                r#""resize": "letterbox", "filter": "lanczos""#,
                "preprocess.filter",
                "'lanczos' is not one of bilinear, tf-bilinear",
            ),
            (
                COCO_SSD,
                r#""ids": [1, 2,"#,
                r#""ids": [2,"#,
                "labels.ids",
                "has 79 values, not 80 (one per label)",
            ),
            (
                COCO_SSD,
                r#""box_order": ["ymin", "xmin", "ymax", "xmax"]"#,
                r#""box_order": ["ymin", "xmin", "ymax", "x2"]"#,
                "decoder.box_order",
                "has no corner xmax",
            ),
            (
                COCO_SSD,
                r#""box_units": "normalized""#,
                r#""box_units": "percent""#,
                "decoder.box_units",
                "'percent' is not one of normalized, input pixels",
            ),
            (
                COCO_SSD,
                r#""first_class_id": 1, "#,
                "",
                "decoder.first_class_id",
                "is missing",
            ),
            (
                COCO_SSD,
                r#""anchors": 1917"#,
                r#""anchors": 0"#,
                "decoder.anchors",
                "0 is not a whole number from 1 to 1000000",
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
                NANODET_FLOAT32,
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
