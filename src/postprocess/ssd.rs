//! SSD heads whose graph decodes the boxes itself (the TF Object Detection
//! API's exports, coco-ssd among them): per-anchor class scores
//! `[1, anchors, columns]` and per-anchor boxes `[1, anchors, 4]`, the box's
//! corners in the order and units the manifest gives. Decoding as TF.js
//! coco-ssd's `detect` does: each anchor's best column, the threshold, one
//! greedy NMS (TensorFlow's rule), then the boxes scaled to the photo.
//!
//! The score columns are category ids (`first_class_id` onwards), which may
//! be sparse: COCO's 90 ids name 80 classes. [`Ssd::column_classes`] maps
//! each column to its line of the labels file, or to none.

use super::nms::{Nms, Suppress};
use super::{keep_in_input, Detection, Filter, Shape, ShapeError, Wanted};
use crate::preprocess::Placement;

/// The names of a box's corners, in the order of [`Ssd::box_order`].
pub const CORNERS: [&str; 4] = ["xmin", "ymin", "xmax", "ymax"];

/// Where a box's corners are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxUnits {
    /// Fractions of the input square, 0 to 1.
    Normalized,
    /// Pixels of the input square.
    InputPixels,
}

/// An SSD head, from the manifest's `decoder` and `labels`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ssd {
    /// Names of the two outputs.
    pub scores: String,
    pub boxes: String,
    /// Rows of both outputs.
    pub anchors: usize,
    /// Where in a box's 4 values each of [`CORNERS`] is.
    pub box_order: [usize; 4],
    pub box_units: BoxUnits,
    /// The class (line of the labels file) of each score column, if any:
    /// as many entries as columns.
    pub column_classes: Vec<Option<usize>>,
    pub nms: Nms,
}

impl Ssd {
    pub(super) fn outputs(&self) -> [Wanted<'_>; 2] {
        [
            Wanted {
                field: "decoder.scores",
                name: &self.scores,
                shape: Shape::Rows {
                    rows: self.anchors,
                    width: self.column_classes.len(),
                },
            },
            Wanted {
                field: "decoder.boxes",
                name: &self.boxes,
                shape: Shape::Rows {
                    rows: self.anchors,
                    width: 4,
                },
            },
        ]
    }

    /// The detections in the outputs, best first.
    pub fn detect(
        &self,
        scores: &[f32],
        boxes: &[f32],
        placement: &Placement,
        filter: &Filter,
    ) -> Result<Vec<Detection>, ShapeError> {
        let columns = self.column_classes.len();
        if scores.len() != self.anchors * columns || boxes.len() != self.anchors * 4 {
            return Err(ShapeError(format!(
                "expected {} anchors of {columns} scores and 4 box values, got {} and {} values",
                self.anchors,
                scores.len(),
                boxes.len()
            )));
        }
        // Corners in input pixels: NMS runs there, then the placement is
        // undone (a box's IoU is the same in either unit).
        let unit = match self.box_units {
            BoxUnits::Normalized => placement.side as f32,
            BoxUnits::InputPixels => 1.0,
        };
        let candidates: Vec<Detection> = scores
            .chunks_exact(columns)
            .zip(boxes.chunks_exact(4))
            .filter_map(|(row, b)| {
                if filter.rules_out(row) {
                    return None;
                }
                // coco-ssd's calculateMaxScores: the first of equal bests (a
                // NaN is never the best).
                let mut best = (0, row[0]);
                for (c, &s) in row.iter().enumerate().skip(1) {
                    if s > best.1 || best.1.is_nan() {
                        best = (c, s);
                    }
                }
                // A column that names no class (an unused id) is no detection.
                let class = self.column_classes[best.0]?;
                if !filter.keeps(class, best.1) {
                    return None;
                }
                let [x1, y1, x2, y2] = self.box_order.map(|i| b[i] * unit);
                Detection::from_corners(class, best.1, [x1, y1, x2, y2])
            })
            .collect();
        Ok(keep_in_input(
            &self.nms,
            candidates,
            filter,
            Suppress::AtLeast,
            placement,
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::postprocess::found;

    /// COCO's category id of each of the 80 classes (coco-ssd's manifest's
    /// `labels.ids`).
    pub(crate) const COCO_IDS: [usize; 80] = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27,
        28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53,
        54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80,
        81, 82, 84, 85, 86, 87, 88, 89, 90,
    ];

    /// coco-ssd's: 1917 anchors, 90 columns for COCO ids 1..90, boxes as
    /// ymin, xmin, ymax, xmax in 0..1.
    pub(crate) fn coco_ssd() -> Ssd {
        let ids = COCO_IDS;
        Ssd {
            scores: "scores".into(),
            boxes: "boxes".into(),
            anchors: 1917,
            box_order: [1, 0, 3, 2],
            box_units: BoxUnits::Normalized,
            column_classes: (1..=90)
                .map(|id| ids.iter().position(|&i| i == id))
                .collect(),
            nms: Nms {
                iou: 0.5,
                per_class: false,
            },
        }
    }

    fn small(anchors: usize, columns: Vec<Option<usize>>) -> Ssd {
        Ssd {
            anchors,
            column_classes: columns,
            ..coco_ssd()
        }
    }

    fn filter(threshold: f32) -> Filter {
        Filter {
            threshold,
            max: 20,
            classes: None,
            iou: None,
        }
    }

    #[test]
    fn boxes_are_scaled_to_the_photo_each_axis_by_its_own() {
        // A 600x300 photo stretched to 300x300: x doubles, y stays.
        let head = small(2, vec![Some(0), Some(1)]);
        let scores = [0.9, 0.1, 0.2, 0.3];
        // ymin, xmin, ymax, xmax
        let boxes = [0.1, 0.2, 0.5, 0.6, 0.0, 0.0, 1.0, 1.0];
        let p = Placement::stretch(600, 300, 300);
        let d = head.detect(&scores, &boxes, &p, &filter(0.5)).unwrap();
        assert_eq!(found(&d).len(), 1);
        let [x1, y1, x2, y2] = found(&d)[0].2;
        for (got, want) in [(x1, 120.0), (y1, 30.0), (x2, 360.0), (y2, 150.0)] {
            assert!((got - want).abs() < 1e-3, "{d:?}");
        }
        assert_eq!((d[0].class, d[0].score), (0, 0.9));
    }

    #[test]
    fn the_best_column_decides_and_an_unused_id_is_no_detection() {
        // Column 1 names no class: its anchor is dropped even though a
        // weaker column of a real class passes the threshold.
        let head = small(2, vec![Some(4), None, Some(7)]);
        let scores = [0.6, 0.9, 0.1, 0.2, 0.3, 0.8];
        let boxes = [0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0];
        let p = Placement::stretch(300, 300, 300);
        let d = head.detect(&scores, &boxes, &p, &filter(0.5)).unwrap();
        assert_eq!(
            found(&d).iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(),
            [(7, 0.8)]
        );
    }

    #[test]
    fn one_nms_across_classes_drops_an_overlap_at_the_limit() {
        // Two identical boxes of different classes: the weaker goes
        // (IoU 1 >= 0.5); a disjoint one stays.
        let head = small(3, vec![Some(0), Some(1)]);
        let scores = [0.9, 0.0, 0.0, 0.8, 0.7, 0.0];
        let boxes = [0.0, 0.0, 0.4, 0.4, 0.0, 0.0, 0.4, 0.4, 0.6, 0.6, 1.0, 1.0];
        let p = Placement::stretch(300, 300, 300);
        let d = head.detect(&scores, &boxes, &p, &filter(0.5)).unwrap();
        assert_eq!(
            found(&d).iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(),
            [(0, 0.9), (0, 0.7)]
        );
    }

    #[test]
    fn a_requests_overlap_replaces_the_models() {
        // Boxes overlapping by IoU 1/3 (0.6 wide, offset by 0.3): both stay
        // at the model's 0.5, the weaker goes at the request's 0.3, as TF.js
        // coco-ssd's `detect(img, 20, 0.3)` suppresses at its minScore.
        let head = small(2, vec![Some(0)]);
        let scores = [0.9, 0.8];
        let boxes = [0.0, 0.0, 1.0, 0.6, 0.0, 0.3, 1.0, 0.9];
        let p = Placement::stretch(300, 300, 300);
        let kept = |iou| {
            let f = Filter { iou, ..filter(0.5) };
            found(&head.detect(&scores, &boxes, &p, &f).unwrap()).len()
        };
        assert_eq!(
            (kept(None), kept(Some(0.3)), kept(Some(1.0 / 3.0))),
            (2, 1, 1)
        );
    }

    #[test]
    fn outputs_of_the_wrong_size_are_an_error() {
        let head = coco_ssd();
        let p = Placement::stretch(300, 300, 300);
        let e = head
            .detect(&[0.0; 10], &[0.0; 8], &p, &filter(0.5))
            .unwrap_err();
        assert!(e.0.contains("1917 anchors of 90 scores"), "{e:?}");
    }
}
