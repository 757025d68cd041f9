//! CenterNet's head, as converted: the graph itself picks the best heatmap
//! peaks and gives them as rows of (x1, y1, x2, y2, score, class), best
//! first, the box in input pixels. Decoding: keep the rows that are
//! detections, NMS across classes on the input-pixel boxes, undo the
//! letterbox (`tests/reference/centernet.py` is the reference).

use super::nms::{Nms, Suppress};
use super::{keep_in_input, Detection, Filter, Shape, ShapeError, Wanted};
use crate::preprocess::Placement;

/// The names of a row's columns, in the order of [`CenterNet::columns`].
pub const COLUMNS: [&str; 6] = ["x1", "y1", "x2", "y2", "score", "class"];

/// A CenterNet head, from the manifest's `decoder`.
#[derive(Debug, Clone, PartialEq)]
pub struct CenterNet {
    /// Name of the output.
    pub detections: String,
    /// Rows of the output.
    pub rows: usize,
    /// Where in a row each of [`COLUMNS`] is.
    pub columns: [usize; 6],
    /// Class ids are below this.
    pub classes: usize,
    pub nms: Nms,
}

impl CenterNet {
    pub(super) fn output(&self) -> Wanted<'_> {
        Wanted {
            field: "decoder.detections",
            name: &self.detections,
            shape: Shape::Rows {
                rows: self.rows,
                width: 6,
            },
        }
    }

    /// The detections among the output's rows, best first.
    pub fn detect(
        &self,
        output: &[f32],
        letterbox: &Placement,
        filter: &Filter,
    ) -> Result<Vec<Detection>, ShapeError> {
        if output.len() != self.rows * 6 {
            return Err(ShapeError(format!(
                "expected {} rows of 6 values, got {} values",
                self.rows,
                output.len()
            )));
        }
        let candidates: Vec<Detection> = output
            .chunks_exact(6)
            .filter_map(|row| {
                let [x1, y1, x2, y2, score, class] = self.columns.map(|c| row[c]);
                // A class id is a whole number below the labels' count.
                let whole = class.fract() == 0.0 && class >= 0.0 && class < self.classes as f32;
                if !whole || !filter.keeps(class as usize, score) {
                    return None;
                }
                Detection::from_corners(class as usize, score, [x1, y1, x2, y2])
            })
            .collect();
        // TensorFlow's rule, as CenterNet's pipeline runs it.
        Ok(keep_in_input(
            &self.nms,
            candidates,
            filter,
            Suppress::AtLeast,
            letterbox,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::found;

    fn head() -> CenterNet {
        CenterNet {
            detections: "detections".into(),
            rows: 100,
            columns: [0, 1, 2, 3, 4, 5],
            classes: 80,
            nms: Nms {
                iou: 0.4,
                per_class: false,
            },
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

    /// 100 rows of nothing, then `rows` on top.
    fn output(rows: &[[f32; 6]]) -> Vec<f32> {
        let mut out = vec![0.0; 600];
        for (i, row) in rows.iter().enumerate() {
            out[i * 6..][..6].copy_from_slice(row);
        }
        out
    }

    #[test]
    fn rows_become_boxes_in_the_photos_pixels() {
        // A 1024x512 photo: scale 0.5, pad_y 128.
        let lb = Placement::letterbox(1024, 512, 512);
        let out = output(&[[100.0, 228.0, 200.0, 328.0, 0.9, 16.0]]);
        let d = head().detect(&out, &lb, &filter(0.2)).unwrap();
        assert_eq!(found(&d), [(16, 0.9, [200.0, 200.0, 400.0, 400.0])]);
        // Beyond the image: clamped to it; corners given the other way round.
        let out = output(&[[600.0, 500.0, -10.0, 100.0, 0.5, 0.0]]);
        let d = head().detect(&out, &lb, &filter(0.2)).unwrap();
        assert_eq!(found(&d), [(0, 0.5, [0.0, 0.0, 1024.0, 512.0])]);
    }

    #[test]
    fn only_rows_that_are_detections_are_kept() {
        let lb = Placement::letterbox(512, 512, 512);
        let row = |x: f32, score: f32, class: f32| [x, 0.0, x + 10.0, 10.0, score, class];
        let out = output(&[
            row(0.0, 0.9, 0.0),
            row(20.0, 0.2, 1.0), // not above the threshold
            row(40.0, 1.5, 2.0), // not a probability
            row(60.0, f32::NAN, 3.0),
            row(80.0, 0.8, 80.0), // no such class
            row(100.0, 0.8, 2.5), // not a class id
            row(120.0, 0.8, -1.0),
            [f32::INFINITY, 0.0, 10.0, 10.0, 0.8, 4.0],
            [f32::NAN, 0.0, 10.0, 10.0, 0.8, 4.0],
            row(140.0, 0.7, 5.0),
        ]);
        let d = head().detect(&out, &lb, &filter(0.2)).unwrap();
        let kept: Vec<_> = d.iter().map(|d| (d.class, d.score)).collect();
        assert_eq!(kept, [(0, 0.9), (5, 0.7)]);
    }

    #[test]
    fn nms_is_across_classes_and_at_the_limit() {
        let lb = Placement::letterbox(512, 512, 512);
        // b overlaps a by exactly 0.4 (40 of 100 px wide, same height): dropped.
        // c, another class, overlaps a by 0.8: dropped too (across classes).
        // d overlaps a by 1/6 (20 of 120 px): kept.
        let out = output(&[
            [0.0, 0.0, 100.0, 10.0, 0.9, 0.0],
            [0.0, 0.0, 40.0, 10.0, 0.8, 0.0],
            [0.0, 0.0, 80.0, 10.0, 0.7, 1.0],
            [80.0, 0.0, 120.0, 10.0, 0.6, 2.0],
        ]);
        let d = head().detect(&out, &lb, &filter(0.2)).unwrap();
        let kept: Vec<_> = d.iter().map(|d| d.score).collect();
        assert_eq!(kept, [0.9, 0.6]);
    }

    #[test]
    fn classes_are_filtered_before_nms_and_max_applies_after() {
        let lb = Placement::letterbox(512, 512, 512);
        let out = output(&[
            [0.0, 0.0, 100.0, 100.0, 0.9, 0.0],
            [0.0, 0.0, 100.0, 100.0, 0.8, 1.0],
            [200.0, 0.0, 300.0, 100.0, 0.7, 1.0],
        ]);
        // Without class 0, its box no longer suppresses class 1's.
        let only = Filter {
            classes: Some(vec![1]),
            ..filter(0.2)
        };
        let d = head().detect(&out, &lb, &only).unwrap();
        assert_eq!(d.iter().map(|d| d.score).collect::<Vec<_>>(), [0.8, 0.7]);
        let one = Filter { max: 1, ..only };
        assert_eq!(head().detect(&out, &lb, &one).unwrap().len(), 1);
    }

    #[test]
    fn columns_in_another_order_and_wrong_sizes() {
        // (score, class, x1, y1, x2, y2)
        let head = CenterNet {
            columns: [2, 3, 4, 5, 0, 1],
            ..head()
        };
        let mut out = vec![0.0; 600];
        out[..6].copy_from_slice(&[0.9, 3.0, 10.0, 20.0, 30.0, 40.0]);
        let lb = Placement::letterbox(512, 512, 512);
        let d = head.detect(&out, &lb, &filter(0.2)).unwrap();
        assert_eq!(found(&d), [(3, 0.9, [10.0, 20.0, 30.0, 40.0])]);
        assert!(head.detect(&out[..599], &lb, &filter(0.2)).is_err());
    }
}
