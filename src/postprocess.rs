//! From the model's two outputs to boxes in image pixels: best class per row,
//! threshold, distance distributions to box sides, per-class NMS.

use crate::model::{
    anchors, BOX_DIST_WIDTH, DIST_BINS, INPUT_SIZE, NMS_IOU, NUM_CLASSES, NUM_ROWS,
};
use crate::preprocess::Letterbox;

/// One detected object, in pixels of the image as displayed.
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
    fn area(&self) -> f32 {
        (self.x2 - self.x1).max(0.0) * (self.y2 - self.y1).max(0.0)
    }

    /// Intersection over union of two boxes (0 when both are empty).
    pub fn iou(&self, other: &Detection) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// What to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Keep rows whose best score is above this.
    pub threshold: f32,
    /// Keep at most this many detections, best first.
    pub max: usize,
    /// Keep only these class ids (all when `None`).
    pub classes: Option<Vec<usize>>,
}

/// The outputs were not the shape this model gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

/// Turns `scores` (`NUM_ROWS x NUM_CLASSES`) and `box_dist`
/// (`NUM_ROWS x 4 * DIST_BINS`) into detections, best first.
pub fn detect(
    scores: &[f32],
    box_dist: &[f32],
    letterbox: &Letterbox,
    filter: &Filter,
) -> Result<Vec<Detection>, ShapeError> {
    if scores.len() != NUM_ROWS * NUM_CLASSES || box_dist.len() != NUM_ROWS * BOX_DIST_WIDTH {
        return Err(ShapeError(format!(
            "expected {} scores and {} box distances, got {} and {}",
            NUM_ROWS * NUM_CLASSES,
            NUM_ROWS * BOX_DIST_WIDTH,
            scores.len(),
            box_dist.len()
        )));
    }
    let allowed = |class: usize| filter.classes.as_ref().is_none_or(|c| c.contains(&class));
    let side = INPUT_SIZE as f32;

    let mut candidates: Vec<Detection> = scores
        .chunks_exact(NUM_CLASSES)
        .zip(box_dist.chunks_exact(BOX_DIST_WIDTH))
        .zip(anchors())
        .filter_map(|((row_scores, dist), (cx, cy, stride))| {
            let (class, score) = best(row_scores)?;
            // Written as `>` so a NaN score is never kept; a probability
            // above 1 (an infinite one would be `null` in JSON) is the
            // engine's fault, not a detection.
            let keep = score > filter.threshold && score <= 1.0 && allowed(class);
            if !keep {
                return None;
            }
            let [l, t, r, b] = side_distances(dist, stride);
            let (x1, y1) = letterbox.to_image((cx - l).clamp(0.0, side), (cy - t).clamp(0.0, side));
            let (x2, y2) = letterbox.to_image((cx + r).clamp(0.0, side), (cy + b).clamp(0.0, side));
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

    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for c in candidates {
        if kept.len() == filter.max {
            break;
        }
        if kept
            .iter()
            .all(|k| k.class != c.class || k.iou(&c) <= NMS_IOU)
        {
            kept.push(c);
        }
    }
    Ok(kept)
}

/// Index and value of the highest score of a row.
fn best(row: &[f32]) -> Option<(usize, f32)> {
    row.iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Expected distance of each side (left, top, right, bottom) from the row's
/// centre: the mean of the softmax over its bins, in input pixels.
fn side_distances(dist: &[f32], stride: f32) -> [f32; 4] {
    let mut out = [0f32; 4];
    for (side, logits) in out.iter_mut().zip(dist.chunks_exact(DIST_BINS)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(threshold: f32) -> Filter {
        Filter {
            threshold,
            max: 20,
            classes: None,
        }
    }

    /// Outputs with nothing in them, and a way to put a box on one row.
    struct Outputs {
        scores: Vec<f32>,
        dist: Vec<f32>,
    }

    impl Outputs {
        fn empty() -> Self {
            Outputs {
                scores: vec![0.01; NUM_ROWS * NUM_CLASSES],
                dist: vec![0.0; NUM_ROWS * BOX_DIST_WIDTH],
            }
        }

        /// A box on `row` whose sides are all exactly `bin` strides away.
        fn put(&mut self, row: usize, class: usize, score: f32, bin: usize) {
            self.scores[row * NUM_CLASSES + class] = score;
            for side in 0..4 {
                let logits = &mut self.dist[row * BOX_DIST_WIDTH + side * DIST_BINS..][..DIST_BINS];
                logits.fill(-50.0);
                logits[bin] = 50.0;
            }
        }
    }

    #[test]
    fn a_confident_row_becomes_a_box_around_its_cell() {
        let mut o = Outputs::empty();
        // Row 53 of stride 8: centre (12, 12); sides 1 stride away.
        o.put(53, 16, 0.9, 1);
        let lb = Letterbox::fit(416, 416);
        let d = detect(&o.scores, &o.dist, &lb, &filter(0.35)).unwrap();
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
        let lb = Letterbox::fit(832, 416); // scale 0.5, pad_y 104
        let d = detect(&o.scores, &o.dist, &lb, &filter(0.3)).unwrap();
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
        let mut scores = vec![0.0f32; NUM_ROWS * NUM_CLASSES];
        let box_dist = vec![0.0f32; NUM_ROWS * BOX_DIST_WIDTH];
        scores[0] = f32::INFINITY;
        scores[NUM_CLASSES] = 1.5;
        scores[2 * NUM_CLASSES] = f32::NAN;
        let lb = Letterbox::fit(416, 416);
        assert!(detect(&scores, &box_dist, &lb, &filter(0.0))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn threshold_class_filter_and_max_apply() {
        let mut o = Outputs::empty();
        o.put(0, 0, 0.9, 1);
        o.put(1000, 1, 0.5, 1);
        o.put(2000, 2, 0.3, 1);
        let lb = Letterbox::fit(416, 416);
        let classes = |d: Vec<Detection>| d.iter().map(|d| d.class).collect::<Vec<_>>();
        assert_eq!(
            classes(detect(&o.scores, &o.dist, &lb, &filter(0.35)).unwrap()),
            [0, 1]
        );
        assert_eq!(
            classes(detect(&o.scores, &o.dist, &lb, &filter(0.2)).unwrap()),
            [0, 1, 2]
        );
        let only = Filter {
            classes: Some(vec![2, 1]),
            ..filter(0.2)
        };
        assert_eq!(
            classes(detect(&o.scores, &o.dist, &lb, &only).unwrap()),
            [1, 2]
        );
        let one = Filter {
            max: 1,
            ..filter(0.2)
        };
        assert_eq!(classes(detect(&o.scores, &o.dist, &lb, &one).unwrap()), [0]);
    }

    #[test]
    fn nms_suppresses_overlaps_of_the_same_class_only() {
        let mut o = Outputs::empty();
        // Neighbouring cells of stride 8 with boxes 5 strides wide overlap a lot.
        o.put(100, 0, 0.9, 5);
        o.put(101, 0, 0.8, 5);
        o.put(102, 1, 0.7, 5);
        let lb = Letterbox::fit(416, 416);
        let d = detect(&o.scores, &o.dist, &lb, &filter(0.35)).unwrap();
        let got: Vec<_> = d.iter().map(|d| (d.class, d.score)).collect();
        assert_eq!(got, [(0, 0.9), (1, 0.7)]);
    }

    #[test]
    fn wrong_shapes_and_nan_do_not_panic() {
        let lb = Letterbox::fit(416, 416);
        assert!(detect(&[0.0; 10], &[0.0; 10], &lb, &filter(0.3)).is_err());
        let mut o = Outputs::empty();
        o.scores.fill(f32::NAN);
        o.dist.fill(f32::NAN);
        assert!(detect(&o.scores, &o.dist, &lb, &filter(0.3))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn iou_of_identical_disjoint_and_empty_boxes() {
        let a = Detection {
            class: 0,
            score: 1.0,
            x1: 0.0,
            y1: 0.0,
            x2: 10.0,
            y2: 10.0,
        };
        let b = Detection {
            x1: 20.0,
            x2: 30.0,
            ..a
        };
        let empty = Detection {
            x2: 0.0,
            y2: 0.0,
            ..a
        };
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&b), 0.0);
        assert_eq!(empty.iou(&empty), 0.0);
    }
}
