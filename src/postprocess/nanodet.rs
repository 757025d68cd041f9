//! NanoDet's head (Generalized Focal Loss): one row per cell of a grid per
//! stride, each with a score per class and, per box side, a distribution
//! over distance bins. Decoding: best class per row, threshold, the
//! distributions' means to box sides, undo the letterbox, NMS.

use super::nms::{Nms, Suppress};
use super::{Detection, Filter, Shape, ShapeError, Wanted};
use crate::preprocess::Placement;

/// A NanoDet head, from the manifest's `decoder` (and the input's side and
/// the labels' count).
#[derive(Debug, Clone, PartialEq)]
pub struct NanoDet {
    /// Side of the square input, in pixels.
    pub side: u32,
    /// Feature-map strides of the heads, in the order their rows appear.
    pub strides: Vec<u32>,
    /// Bins of each side's distance distribution (`reg_max + 1`).
    pub bins: usize,
    /// Scores per row.
    pub classes: usize,
    /// Names of the outputs: class scores (sigmoid applied), and the
    /// left/top/right/bottom distance-bin logits.
    pub scores: String,
    pub boxes: String,
    pub nms: Nms,
}

impl NanoDet {
    /// Rows of both outputs: one per cell of every stride's grid (at most
    /// 8 strides of a 2048-pixel side: 2^25).
    pub fn rows(&self) -> usize {
        self.strides.iter().map(|&s| self.cells(s).pow(2)).sum()
    }

    /// Cells across the grid of a stride.
    fn cells(&self, stride: u32) -> usize {
        self.side.div_ceil(stride) as usize
    }

    /// Values per row of the box output.
    fn box_width(&self) -> usize {
        4 * self.bins
    }

    /// Centre and stride of every output row, in input pixels. Row j of a
    /// grid n cells across is cell (j % n, j / n).
    fn anchors(&self) -> impl Iterator<Item = (f32, f32, f32)> + '_ {
        self.strides.iter().flat_map(|&stride| {
            let n = self.cells(stride);
            (0..n * n).map(move |j| {
                let (col, row) = (j % n, j / n);
                let s = stride as f32;
                ((col as f32 + 0.5) * s, (row as f32 + 0.5) * s, s)
            })
        })
    }

    /// The outputs it reads: scores, then box distributions.
    pub(super) fn outputs(&self) -> [Wanted<'_>; 2] {
        let rows = self.rows();
        let output = |field, name, width| Wanted {
            field,
            name,
            shape: Shape::Rows { rows, width },
        };
        [
            output("decoder.scores", self.scores.as_str(), self.classes),
            output("decoder.boxes", self.boxes.as_str(), self.box_width()),
        ]
    }

    /// Turns `scores` (rows x classes) and `box_dist` (rows x 4 * bins)
    /// into detections, best first.
    pub fn detect(
        &self,
        scores: &[f32],
        box_dist: &[f32],
        letterbox: &Placement,
        filter: &Filter,
    ) -> Result<Vec<Detection>, ShapeError> {
        let (rows, width) = (self.rows(), self.box_width());
        // `checked_mul`: a manifest's strides and classes may ask for more
        // values than memory can hold (and than a graph gives).
        let sizes = (rows.checked_mul(self.classes), rows.checked_mul(width));
        if sizes != (Some(scores.len()), Some(box_dist.len())) {
            return Err(ShapeError(format!(
                "expected {rows} rows of {} scores and of {width} box distances, got {} and {} values",
                self.classes,
                scores.len(),
                box_dist.len()
            )));
        }
        let side = self.side as f32;
        let candidates: Vec<Detection> = scores
            .chunks_exact(self.classes)
            .zip(box_dist.chunks_exact(width))
            .zip(self.anchors())
            .filter_map(|((row_scores, dist), (cx, cy, stride))| {
                if filter.rules_out(row_scores) {
                    return None;
                }
                let (class, score) = best(row_scores)?;
                if !filter.keeps(class, score) {
                    return None;
                }
                let [l, t, r, b] = self.side_distances(dist, stride);
                let (x1, y1) =
                    letterbox.to_image((cx - l).clamp(0.0, side), (cy - t).clamp(0.0, side));
                let (x2, y2) =
                    letterbox.to_image((cx + r).clamp(0.0, side), (cy + b).clamp(0.0, side));
                Some(Detection {
                    class,
                    score,
                    x1,
                    y1,
                    x2,
                    y2,
                })
            })
            .collect();
        // NanoDet's pipeline suppresses in the photo's pixels, with
        // torchvision's rule.
        Ok(filter
            .suppression(&self.nms)
            .keep(candidates, filter.max, Suppress::Above))
    }

    /// Expected distance of each side (left, top, right, bottom) from the
    /// row's centre: the mean of the softmax over its bins, in input pixels.
    fn side_distances(&self, dist: &[f32], stride: f32) -> [f32; 4] {
        let mut out = [0f32; 4];
        for (side, logits) in out.iter_mut().zip(dist.chunks_exact(self.bins)) {
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let (mut sum, mut weighted) = (0f32, 0f32);
            for (bin, &logit) in logits.iter().enumerate() {
                let e = (logit - max).exp();
                sum += e;
                weighted += e * bin as f32;
            }
            *side = if sum > 0.0 {
                weighted / sum * stride
            } else {
                0.0
            };
        }
        out
    }
}

/// Index and value of the highest score of a row.
fn best(row: &[f32]) -> Option<(usize, f32)> {
    row.iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::postprocess::nms::iou;

    /// NanoDet-g 416's head, as its manifest describes it.
    pub(crate) fn nanodet_g() -> NanoDet {
        NanoDet {
            side: 416,
            strides: vec![8, 16, 32],
            bins: 11,
            classes: 80,
            scores: "scores".into(),
            boxes: "box_dist".into(),
            nms: Nms {
                iou: 0.6,
                per_class: true,
            },
        }
    }

    const ROWS: usize = 3549;
    const CLASSES: usize = 80;
    const BINS: usize = 11;
    const WIDTH: usize = 44;

    fn filter(threshold: f32) -> Filter {
        Filter {
            threshold,
            max: 20,
            classes: None,
            iou: None,
        }
    }

    fn fit(width: u32, height: u32) -> Placement {
        Placement::letterbox(width, height, 416)
    }

    fn detect(o: &Outputs, lb: &Placement, f: &Filter) -> Result<Vec<Detection>, ShapeError> {
        nanodet_g().detect(&o.scores, &o.dist, lb, f)
    }

    /// Outputs with nothing in them, and a way to put a box on one row.
    struct Outputs {
        scores: Vec<f32>,
        dist: Vec<f32>,
    }

    impl Outputs {
        fn empty() -> Self {
            Outputs {
                scores: vec![0.01; ROWS * CLASSES],
                dist: vec![0.0; ROWS * WIDTH],
            }
        }

        /// A box on `row` whose sides are all exactly `bin` strides away.
        fn put(&mut self, row: usize, class: usize, score: f32, bin: usize) {
            self.scores[row * CLASSES + class] = score;
            for side in 0..4 {
                let logits = &mut self.dist[row * WIDTH + side * BINS..][..BINS];
                logits.fill(-50.0);
                logits[bin] = 50.0;
            }
        }
    }

    #[test]
    fn rows_and_anchors_follow_the_level_layout() {
        let head = nanodet_g();
        assert_eq!(head.rows(), ROWS);
        let all: Vec<_> = head.anchors().collect();
        assert_eq!(all.len(), ROWS);
        assert_eq!(all[0], (4.0, 4.0, 8.0));
        // Row 53 of the first level is cell (1, 1).
        assert_eq!(all[53], (12.0, 12.0, 8.0));
        // The first row of the 16-stride level.
        assert_eq!(all[2704], (8.0, 8.0, 16.0));
        // The last row: cell (12, 12) of the 32-stride level.
        assert_eq!(all[3548], (400.0, 400.0, 32.0));
    }

    #[test]
    fn a_confident_row_becomes_a_box_around_its_cell() {
        let mut o = Outputs::empty();
        // Row 53 of stride 8: centre (12, 12); sides 1 stride away.
        o.put(53, 16, 0.9, 1);
        let d = detect(&o, &fit(416, 416), &filter(0.35)).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].class, 16);
        assert!((d[0].x1 - 4.0).abs() < 1e-3 && (d[0].x2 - 20.0).abs() < 1e-3);
        assert!((d[0].y1 - 4.0).abs() < 1e-3 && (d[0].y2 - 20.0).abs() < 1e-3);
    }

    #[test]
    fn boxes_are_mapped_back_through_the_letterbox() {
        let mut o = Outputs::empty();
        // Stride 32, cell (6, 6): centre (208, 208), sides 64 px away.
        o.put(3380 + 6 * 13 + 6, 2, 0.8, 2);
        let lb = fit(832, 416); // scale 0.5, pad_y 104
        let d = detect(&o, &lb, &filter(0.3)).unwrap();
        let b = d[0];
        assert!(
            (b.x1 - 288.0).abs() < 1e-2 && (b.x2 - 544.0).abs() < 1e-2,
            "{b:?}"
        );
        assert!(
            (b.y1 - 80.0).abs() < 1e-2 && (b.y2 - 336.0).abs() < 1e-2,
            "{b:?}"
        );
    }

    #[test]
    fn scores_outside_zero_to_one_are_not_detections() {
        let mut o = Outputs::empty();
        o.scores.fill(0.0);
        o.scores[0] = f32::INFINITY;
        o.scores[CLASSES] = 1.5;
        o.scores[2 * CLASSES] = f32::NAN;
        assert!(detect(&o, &fit(416, 416), &filter(0.0)).unwrap().is_empty());
    }

    #[test]
    fn threshold_class_filter_and_max_apply() {
        let mut o = Outputs::empty();
        o.put(0, 0, 0.9, 1);
        o.put(1000, 1, 0.5, 1);
        o.put(2000, 2, 0.3, 1);
        let lb = fit(416, 416);
        let classes = |f: &Filter| -> Vec<usize> {
            detect(&o, &lb, f)
                .unwrap()
                .iter()
                .map(|d| d.class)
                .collect()
        };
        assert_eq!(classes(&filter(0.35)), [0, 1]);
        assert_eq!(classes(&filter(0.2)), [0, 1, 2]);
        let only = Filter {
            classes: Some(vec![2, 1]),
            ..filter(0.2)
        };
        assert_eq!(classes(&only), [1, 2]);
        let one = Filter {
            max: 1,
            ..filter(0.2)
        };
        assert_eq!(classes(&one), [0]);
    }

    #[test]
    fn nms_suppresses_overlaps_of_the_same_class_only() {
        let mut o = Outputs::empty();
        // Neighbouring cells of stride 8 with boxes 5 strides wide overlap a lot.
        o.put(100, 0, 0.9, 5);
        o.put(101, 0, 0.8, 5);
        o.put(102, 1, 0.7, 5);
        let d = detect(&o, &fit(416, 416), &filter(0.35)).unwrap();
        let got: Vec<_> = d.iter().map(|d| (d.class, d.score)).collect();
        assert_eq!(got, [(0, 0.9), (1, 0.7)]);
        assert!(iou(&d[0], &d[1]) > 0.6);
    }

    #[test]
    fn wrong_shapes_and_nan_do_not_panic() {
        let lb = fit(416, 416);
        let head = nanodet_g();
        assert!(head
            .detect(&[0.0; 10], &[0.0; 10], &lb, &filter(0.3))
            .is_err());
        let mut o = Outputs::empty();
        o.scores.fill(f32::NAN);
        o.dist.fill(f32::NAN);
        assert!(detect(&o, &lb, &filter(0.3)).unwrap().is_empty());
    }

    #[test]
    fn a_head_too_large_to_count_is_a_shape_error() {
        // 2048 pixels at stride 1, 100000 classes: 4e11 scores.
        let head = NanoDet {
            side: 2048,
            strides: vec![1],
            classes: 100_000,
            ..nanodet_g()
        };
        let lb = Placement::letterbox(10, 10, 2048);
        assert!(head
            .detect(&[0.5; 8], &[0.0; 8], &lb, &filter(0.3))
            .is_err());
    }

    #[test]
    fn another_input_size_and_strides() {
        // A 320 head with strides 8 and 16 only: 40x40 + 20x20 rows.
        let head = NanoDet {
            side: 320,
            strides: vec![8, 16],
            classes: 3,
            ..nanodet_g()
        };
        assert_eq!(head.rows(), 2000);
        let mut scores = vec![0.0; 2000 * 3];
        let mut dist = vec![0.0; 2000 * WIDTH];
        // The first row of stride 16: centre (8, 8), sides 1 bin (16 px).
        scores[1600 * 3 + 2] = 0.7;
        for side in 0..4 {
            dist[1600 * WIDTH + side * BINS + 1] = 50.0;
        }
        let d = head
            .detect(
                &scores,
                &dist,
                &Placement::letterbox(320, 320, 320),
                &filter(0.5),
            )
            .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].class, d[0].x1, d[0].x2), (2, 0.0, 24.0));
    }
}
