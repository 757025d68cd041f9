//! From a model's outputs to boxes in the photo's pixels. Detection heads
//! come in a few families, each with its own outputs and decoding, in a
//! module of its own; the manifest says which family a model is and gives
//! its numbers:
//! - [`nanodet`]: per-cell class scores and box-side distributions (GFL);
//! - [`centernet`]: the model's own top detections, as boxes;
//! - [`yolo`]: Ultralytics' detect head, centre and size per anchor;
//! - [`ssd`]: per-anchor class scores and boxes the graph decoded (the TF
//!   Object Detection API's SSD exports, TF.js coco-ssd's model).
//!
//! What they share: [`Detection`], the request's [`Filter`], and
//! [`nms`]'s greedy suppression.

pub mod centernet;
pub mod nanodet;
pub mod nms;
pub mod ssd;
pub mod yolo;

use crate::preprocess::Placement;

/// One detected object: a class id, its score, and its corners (in the
/// photo's pixels, or the input's while a decoder works on it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub class: usize,
    pub score: f32,
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl Detection {
    /// A detection whose box has the corners `[x1, y1, x2, y2]`, given
    /// either way round: made top-left and bottom-right. None when a corner
    /// is not a number.
    fn from_corners(class: usize, score: f32, corners: [f32; 4]) -> Option<Detection> {
        if !corners.iter().all(|v| v.is_finite()) {
            return None;
        }
        let [x1, y1, x2, y2] = corners;
        Some(Detection {
            class,
            score,
            x1: x1.min(x2),
            y1: y1.min(y2),
            x2: x1.max(x2),
            y2: y1.max(y2),
        })
    }

    /// The same detection with its corners mapped from the input square
    /// back to the photo.
    fn to_photo(self, letterbox: &Placement) -> Detection {
        let (x1, y1) = letterbox.to_image(self.x1, self.y1);
        let (x2, y2) = letterbox.to_image(self.x2, self.y2);
        Detection {
            x1,
            y1,
            x2,
            y2,
            ..self
        }
    }
}

/// What to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Keep detections scoring above this.
    pub threshold: f32,
    /// Keep at most this many detections, best first.
    pub max: usize,
    /// Keep only these class ids (all when `None`).
    pub classes: Option<Vec<usize>>,
    /// The overlap at which boxes suppress each other, over the model's own
    /// (its manifest's `nms_iou`): TF.js coco-ssd's `detect` suppresses at
    /// its score threshold, and a caller asking as it does must get its
    /// answers.
    pub iou: Option<f32>,
}

impl Filter {
    /// Whether a detection of `class` with `score` passes: above the
    /// threshold (written as `>` so a NaN score never does) and a
    /// probability (above 1, an infinite one would be `null` in JSON, is the
    /// engine's fault, not a detection), of a class asked for.
    fn keeps(&self, class: usize, score: f32) -> bool {
        score > self.threshold
            && score <= 1.0
            && self.classes.as_ref().is_none_or(|c| c.contains(&class))
    }

    /// Whether no score of `row` can pass: every one at most the threshold
    /// (a NaN is not, so a row with one is looked at in full). Nearly every
    /// row of a model's scores is such (NanoDet: 3,549 rows of 80), so the
    /// decoders ask this before finding a row's best. Eight scores a step,
    /// with no branch between them: Spin's engine checks for interruption at
    /// every loop's back edge, which made a loop step per score cost twice
    /// as much (post-processing 0.3 to 0.7 ms a request).
    fn rules_out(&self, row: &[f32]) -> bool {
        let t = self.threshold;
        let mut eights = row.chunks_exact(8);
        let low = eights.by_ref().all(|s| {
            (s[0] <= t)
                & (s[1] <= t)
                & (s[2] <= t)
                & (s[3] <= t)
                & (s[4] <= t)
                & (s[5] <= t)
                & (s[6] <= t)
                & (s[7] <= t)
        });
        low && eights.remainder().iter().all(|&s| s <= t)
    }

    /// The model's suppression with the request's overlap, if it gives one.
    fn suppression(&self, model: &nms::Nms) -> nms::Nms {
        nms::Nms {
            iou: self.iou.unwrap_or(model.iou),
            ..*model
        }
    }
}

/// The detections the model's suppression `nms` (with the request's
/// overlap) keeps of `candidates` in input pixels (CenterNet's, Ultralytics'
/// and SSD's pipelines suppress before the placement is undone), at most the
/// request's `max`, mapped to the photo.
fn keep_in_input(
    nms: &nms::Nms,
    candidates: Vec<Detection>,
    filter: &Filter,
    rule: nms::Suppress,
    letterbox: &Placement,
) -> Vec<Detection> {
    let kept = filter.suppression(nms).keep(candidates, filter.max, rule);
    kept.into_iter().map(|d| d.to_photo(letterbox)).collect()
}

/// The outputs were not the size the decoder reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

/// The graph's outputs are not what the manifest says: the manifest's field
/// at fault, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputError {
    pub field: &'static str,
    pub message: String,
}

/// A model's decoder, from its manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoder {
    NanoDet(nanodet::NanoDet),
    CenterNet(centernet::CenterNet),
    Yolo(yolo::Yolo),
    Ssd(ssd::Ssd),
}

impl Decoder {
    /// The family's name in manifests.
    pub fn family(&self) -> &'static str {
        match self {
            Decoder::NanoDet(_) => "nanodet",
            Decoder::CenterNet(_) => "centernet",
            Decoder::Yolo(_) => "yolo",
            Decoder::Ssd(_) => "ssd",
        }
    }

    /// Which of the graph's outputs (name and dimensions) the decoder
    /// reads, in the order [`Decoder::detect`] takes them.
    pub fn pick_outputs(&self, outputs: &[(&str, &[u32])]) -> Result<Vec<usize>, OutputError> {
        match self {
            Decoder::NanoDet(d) => pick(outputs, &d.outputs()),
            Decoder::CenterNet(d) => pick(outputs, &[d.output()]),
            Decoder::Yolo(d) => pick(outputs, &[d.output()]),
            Decoder::Ssd(d) => pick(outputs, &d.outputs()),
        }
    }

    /// The detections in the outputs `pick_outputs` chose, best first, in
    /// the photo's pixels.
    pub fn detect(
        &self,
        outputs: &[&[f32]],
        letterbox: &Placement,
        filter: &Filter,
    ) -> Result<Vec<Detection>, ShapeError> {
        match (self, outputs) {
            (Decoder::NanoDet(d), [scores, boxes]) => d.detect(scores, boxes, letterbox, filter),
            (Decoder::CenterNet(d), [rows]) => d.detect(rows, letterbox, filter),
            (Decoder::Yolo(d), [output]) => d.detect(output, letterbox, filter),
            (Decoder::Ssd(d), [scores, boxes]) => d.detect(scores, boxes, letterbox, filter),
            _ => Err(ShapeError(format!(
                "{} outputs for a {} decoder",
                outputs.len(),
                self.family()
            ))),
        }
    }
}

/// An output a decoder reads: the manifest field that names it, that name,
/// and the dimensions it must have.
pub struct Wanted<'a> {
    pub field: &'static str,
    pub name: &'a str,
    pub shape: Shape,
}

/// The dimensions of an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `[1, rows, width]` (any leading 1s): a row per cell or detection.
    Rows { rows: usize, width: usize },
    /// `[1, height, N]`: a column per anchor, of `height` values.
    Columns { height: usize },
}

impl Shape {
    fn fits(self, dims: &[u32]) -> bool {
        match self {
            Shape::Rows { rows, width } => {
                let elements: u64 = dims.iter().map(|&d| u64::from(d)).product();
                // In 64 bits: a manifest may ask for more than 32 can count.
                dims.last() == Some(&(width as u32)) && elements == rows as u64 * width as u64
            }
            Shape::Columns { height } => {
                matches!(dims, [1, h, n] if *h as usize == height && *n > 0)
            }
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Rows { rows, width } => write!(f, "[1, {rows}, {width}]"),
            Shape::Columns { height } => write!(f, "[1, {height}, N]"),
        }
    }
}

/// The index of each wanted output among the graph's: by name, or, when a
/// backend names outputs by index (OpenVINO's says "0", "1"...), the one
/// output of the right dimensions not taken already.
fn pick(outputs: &[(&str, &[u32])], wanted: &[Wanted]) -> Result<Vec<usize>, OutputError> {
    let mut taken: Vec<usize> = Vec::new();
    for w in wanted {
        let by_name = outputs.iter().position(|(name, _)| *name == w.name);
        let found = match by_name {
            Some(i) if w.shape.fits(outputs[i].1) => i,
            Some(i) => {
                return Err(OutputError {
                    field: w.field,
                    message: format!(
                        "the graph's output '{}' is {:?}, not {}",
                        w.name, outputs[i].1, w.shape
                    ),
                })
            }
            None => {
                let mut fitting = (0..outputs.len())
                    .filter(|i| !taken.contains(i) && w.shape.fits(outputs[*i].1));
                match (fitting.next(), fitting.next()) {
                    (Some(i), None) => i,
                    _ => {
                        return Err(OutputError {
                            field: w.field,
                            message: format!(
                                "the graph has no output '{}', nor a single one of {} (its outputs: {})",
                                w.name,
                                w.shape,
                                describe(outputs)
                            ),
                        })
                    }
                }
            }
        };
        taken.push(found);
    }
    Ok(taken)
}

fn describe(outputs: &[(&str, &[u32])]) -> String {
    let each: Vec<String> = outputs
        .iter()
        .map(|(name, dims)| format!("'{name}' {dims:?}"))
        .collect();
    each.join(", ")
}

/// Detections as (class, score, corners), for the families' tests.
#[cfg(test)]
fn found(d: &[Detection]) -> Vec<(usize, f32, [f32; 4])> {
    d.iter()
        .map(|d| (d.class, d.score, [d.x1, d.y1, d.x2, d.y2]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted<'a>(field: &'static str, name: &'a str, width: usize) -> Wanted<'a> {
        Wanted {
            field,
            name,
            shape: Shape::Rows { rows: 3549, width },
        }
    }

    #[test]
    fn outputs_are_found_by_name_or_by_shape() {
        let s: &[u32] = &[1, 3549, 80];
        let b: &[u32] = &[1, 3549, 44];
        let want = [
            wanted("scores", "scores", 80),
            wanted("boxes", "box_dist", 44),
        ];
        assert_eq!(
            pick(&[("box_dist", b), ("scores", s)], &want),
            Ok(vec![1, 0])
        );
        assert_eq!(pick(&[("0", s), ("1", b)], &want), Ok(vec![0, 1]));
        assert_eq!(pick(&[("1", b), ("0", s)], &want), Ok(vec![1, 0]));
        let e = pick(&[("0", s)], &want).unwrap_err();
        assert_eq!(e.field, "boxes");
        assert!(e.message.contains("'box_dist'"), "{e:?}");
        // By name, the dimensions must fit too.
        let e = pick(&[("scores", b), ("box_dist", b)], &want).unwrap_err();
        assert_eq!(e.field, "scores");
        assert!(e.message.contains("[1, 3549, 44]"), "{e:?}");
        // Two unnamed outputs of the same shape cannot be told apart.
        let same = [wanted("a", "a", 6)];
        let six: &[u32] = &[1, 3549, 6];
        assert!(pick(&[("0", six), ("1", six)], &same).is_err());
    }

    #[test]
    fn shapes_of_rows_and_of_columns() {
        let rows = Shape::Rows {
            rows: 100,
            width: 6,
        };
        assert!(rows.fits(&[1, 100, 6]) && rows.fits(&[100, 6]) && rows.fits(&[1, 1, 100, 6]));
        assert!(!rows.fits(&[1, 6, 100]) && !rows.fits(&[1, 99, 6]));
        assert_eq!(rows.to_string(), "[1, 100, 6]");
        let columns = Shape::Columns { height: 84 };
        assert!(columns.fits(&[1, 84, 8400]));
        assert!(
            !columns.fits(&[1, 8400, 84])
                && !columns.fits(&[84, 8400])
                && !columns.fits(&[1, 84, 0])
        );
        assert_eq!(columns.to_string(), "[1, 84, N]");
    }

    #[test]
    fn the_filter_keeps_probabilities_above_the_threshold_of_asked_classes() {
        let f = Filter {
            threshold: 0.3,
            max: 5,
            classes: Some(vec![2]),
            iou: None,
        };
        assert!(f.keeps(2, 0.31) && f.keeps(2, 1.0));
        // A row is ruled out only if no score of it can pass, whatever its
        // length (eight at a time and the rest).
        for n in [1, 7, 8, 9, 80, 90] {
            let mut row = vec![0.3f32; n];
            assert!(f.rules_out(&row), "{n}");
            for i in 0..n {
                for odd in [0.31, f32::NAN, f32::INFINITY] {
                    row[i] = odd;
                    assert!(!f.rules_out(&row), "{n} {i} {odd}");
                }
                row[i] = -1.0;
            }
        }
        for (class, score) in [
            (2, 0.3),
            (2, f32::NAN),
            (2, 1.5),
            (2, f32::INFINITY),
            (1, 0.9),
        ] {
            assert!(!f.keeps(class, score), "{class} {score}");
        }
    }
}
