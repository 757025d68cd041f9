//! Ultralytics' YOLO detect head (YOLOv8, YOLO11, ... exported with
//! `yolo export format=onnx`): one output `[1, 4 + C, N]`, a column per
//! anchor holding the box's centre x, centre y, width and height in input
//! pixels, then its C class scores. Decoding as Ultralytics' `predict`
//! does: best class per anchor, threshold, NMS on the input-pixel boxes,
//! undo the letterbox.

use super::nms::{Nms, Suppress};
use super::{keep_in_input, Detection, Filter, Shape, ShapeError, Wanted};
use crate::preprocess::Placement;

/// A YOLO head, from the manifest's `decoder` (and the labels' count).
#[derive(Debug, Clone, PartialEq)]
pub struct Yolo {
    /// Name of the output.
    pub output: String,
    /// Class scores per anchor.
    pub classes: usize,
    pub nms: Nms,
}

impl Yolo {
    /// Values per anchor: the box, then the class scores.
    fn height(&self) -> usize {
        4 + self.classes
    }

    pub(super) fn output(&self) -> Wanted<'_> {
        Wanted {
            field: "decoder.output",
            name: &self.output,
            shape: Shape::Columns {
                height: self.height(),
            },
        }
    }

    /// The detections in the output, best first.
    pub fn detect(
        &self,
        output: &[f32],
        letterbox: &Placement,
        filter: &Filter,
    ) -> Result<Vec<Detection>, ShapeError> {
        let height = self.height();
        if output.is_empty() || !output.len().is_multiple_of(height) {
            return Err(ShapeError(format!(
                "expected {height} rows of anchors, got {} values",
                output.len()
            )));
        }
        let anchors = output.len() / height;
        // Row r of the output is output[r * anchors..][..anchors].
        let at = |row: usize, anchor: usize| output[row * anchors + anchor];
        let candidates: Vec<Detection> = (0..anchors)
            .filter_map(|a| {
                // The best class, the first of equal scores (a NaN is never
                // the best: it is not above the threshold).
                let mut best = (0, at(4, a));
                for class in 1..self.classes {
                    let score = at(4 + class, a);
                    if score > best.1 {
                        best = (class, score);
                    }
                }
                let (class, score) = best;
                if !filter.keeps(class, score) {
                    return None;
                }
                let [cx, cy, w, h] = [0, 1, 2, 3].map(|row| at(row, a));
                let corners = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
                Detection::from_corners(class, score, corners)
            })
            .collect();
        // torchvision's rule, as Ultralytics runs it.
        Ok(keep_in_input(
            &self.nms,
            candidates,
            filter,
            Suppress::Above,
            letterbox,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Yolo {
        Yolo {
            output: "output0".into(),
            classes: 3,
            nms: Nms {
                iou: 0.7,
                per_class: true,
            },
        }
    }

    fn filter(threshold: f32) -> Filter {
        Filter {
            threshold,
            max: 300,
            classes: None,
            iou: None,
        }
    }

    /// A `[1, 7, n]` output with one anchor per entry: (cx, cy, w, h, scores).
    fn output(anchors: &[([f32; 4], [f32; 3])]) -> Vec<f32> {
        let n = anchors.len();
        let mut out = vec![0.0; 7 * n];
        for (a, (b, scores)) in anchors.iter().enumerate() {
            for (row, v) in b.iter().chain(scores).enumerate() {
                out[row * n + a] = *v;
            }
        }
        out
    }

    #[test]
    fn anchors_become_boxes_in_the_photos_pixels() {
        // 640x320 into 640: scale 1, pad_y 160.
        let lb = Placement::letterbox(640, 320, 640);
        let out = output(&[
            ([100.0, 260.0, 40.0, 20.0], [0.1, 0.8, 0.3]),
            ([300.0, 300.0, 10.0, 10.0], [0.1, 0.1, 0.2]),
        ]);
        let d = head().detect(&out, &lb, &filter(0.25)).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].class, d[0].score, [d[0].x1, d[0].y1, d[0].x2, d[0].y2]),
            (1, 0.8, [80.0, 90.0, 120.0, 110.0])
        );
    }

    #[test]
    fn nms_per_class_or_across_and_filters() {
        let lb = Placement::letterbox(640, 640, 640);
        // Two near-identical boxes of different classes, and a weaker copy of the first.
        let out = output(&[
            ([100.0, 100.0, 50.0, 50.0], [0.9, 0.0, 0.0]),
            ([101.0, 100.0, 50.0, 50.0], [0.0, 0.8, 0.0]),
            ([100.0, 101.0, 50.0, 50.0], [0.7, 0.0, 0.0]),
            ([f32::NAN, 0.0, 5.0, 5.0], [0.0, 0.0, 0.9]),
        ]);
        let classes = |h: &Yolo, f: &Filter| -> Vec<usize> {
            h.detect(&out, &lb, f)
                .unwrap()
                .iter()
                .map(|d| d.class)
                .collect()
        };
        assert_eq!(classes(&head(), &filter(0.25)), [0, 1]);
        let agnostic = Yolo {
            nms: Nms {
                iou: 0.7,
                per_class: false,
            },
            ..head()
        };
        assert_eq!(classes(&agnostic, &filter(0.25)), [0]);
        let only = Filter {
            classes: Some(vec![0]),
            ..filter(0.25)
        };
        assert_eq!(classes(&head(), &only), [0]);
        // Without class 0, the weaker copy's best class is still 0: nothing.
        let other = Filter {
            classes: Some(vec![1]),
            ..filter(0.25)
        };
        assert_eq!(classes(&head(), &other), [1]);
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let lb = Placement::letterbox(640, 640, 640);
        assert!(head().detect(&[0.0; 13], &lb, &filter(0.25)).is_err());
        assert!(head().detect(&[], &lb, &filter(0.25)).is_err());
        assert_eq!(head().output().shape, Shape::Columns { height: 7 });
    }
}
