//! Greedy non-maximum suppression: the best box is kept, and every weaker
//! box that overlaps a kept one too much is dropped, per class or across
//! classes as the manifest says.

use super::Detection;

/// How a model's boxes suppress each other (the manifest's `nms` and
/// `nms_iou`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nms {
    /// The overlap (intersection over union) at which a box is dropped.
    pub iou: f32,
    /// Only boxes of the same class suppress each other; otherwise any do.
    pub per_class: bool,
}

/// Whether an overlap equal to the limit suppresses: the families' own
/// pipelines differ here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppress {
    /// IoU above the limit, as torchvision's `nms` (NanoDet's and
    /// Ultralytics' pipelines).
    Above,
    /// IoU at or above it, as TensorFlow's `non_max_suppression`
    /// (CenterNet's).
    AtLeast,
}

impl Nms {
    /// The detections to keep among `candidates` (in output order), best
    /// first, at most `max`. Equal scores keep their output order.
    pub fn keep(
        &self,
        mut candidates: Vec<Detection>,
        max: usize,
        rule: Suppress,
    ) -> Vec<Detection> {
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let suppresses = |kept: &Detection, c: &Detection| {
            if self.per_class && kept.class != c.class {
                return false;
            }
            let iou = iou(kept, c);
            match rule {
                Suppress::Above => iou > self.iou,
                Suppress::AtLeast => iou >= self.iou,
            }
        };
        let mut kept: Vec<Detection> = Vec::new();
        for c in candidates {
            if kept.len() == max {
                break;
            }
            if !kept.iter().any(|k| suppresses(k, &c)) {
                kept.push(c);
            }
        }
        kept
    }
}

/// Intersection over union of two boxes, their corners in either order;
/// 0 when either is empty (or not a number).
pub fn iou(a: &Detection, b: &Detection) -> f32 {
    let corners = |d: &Detection| {
        (
            d.x1.min(d.x2),
            d.y1.min(d.y2),
            d.x1.max(d.x2),
            d.y1.max(d.y2),
        )
    };
    let (ax1, ay1, ax2, ay2) = corners(a);
    let (bx1, by1, bx2, by2) = corners(b);
    let (area_a, area_b) = ((ax2 - ax1) * (ay2 - ay1), (bx2 - bx1) * (by2 - by1));
    if !(area_a > 0.0 && area_b > 0.0) {
        return 0.0;
    }
    let w = (ax2.min(bx2) - ax1.max(bx1)).max(0.0);
    let h = (ay2.min(by2) - ay1.max(by1)).max(0.0);
    let inter = w * h;
    inter / (area_a + area_b - inter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(class: usize, score: f32, x1: f32, x2: f32) -> Detection {
        Detection {
            class,
            score,
            x1,
            y1: 0.0,
            x2,
            y2: 10.0,
        }
    }

    #[test]
    fn iou_of_identical_disjoint_reversed_and_empty_boxes() {
        let a = boxed(0, 1.0, 0.0, 10.0);
        assert_eq!(iou(&a, &a), 1.0);
        assert_eq!(iou(&a, &boxed(0, 1.0, 20.0, 30.0)), 0.0);
        // Half of `a`, given right to left.
        assert_eq!(iou(&a, &boxed(0, 1.0, 10.0, 5.0)), 0.5);
        let empty = boxed(0, 1.0, 3.0, 3.0);
        assert_eq!(iou(&empty, &empty), 0.0);
        assert_eq!(iou(&a, &empty), 0.0);
        assert_eq!(iou(&a, &boxed(0, 1.0, f32::NAN, 5.0)), 0.0);
    }

    #[test]
    fn per_class_or_across_classes_best_first_up_to_max() {
        // b overlaps a by 0.5; c is another class on top of a.
        let (a, b, c) = (
            boxed(0, 0.9, 0.0, 10.0),
            boxed(0, 0.8, 0.0, 5.0),
            boxed(1, 0.7, 0.0, 10.0),
        );
        let nms = |iou, per_class| Nms { iou, per_class };
        let scores = |d: Vec<Detection>| d.iter().map(|d| d.score).collect::<Vec<_>>();
        let all = vec![c, b, a];
        assert_eq!(
            scores(nms(0.4, true).keep(all.clone(), 10, Suppress::Above)),
            [0.9, 0.7]
        );
        assert_eq!(
            scores(nms(0.4, false).keep(all.clone(), 10, Suppress::Above)),
            [0.9]
        );
        assert_eq!(
            scores(nms(0.6, true).keep(all.clone(), 10, Suppress::Above)),
            [0.9, 0.8, 0.7]
        );
        assert_eq!(
            scores(nms(0.6, true).keep(all.clone(), 2, Suppress::Above)),
            [0.9, 0.8]
        );
        // An overlap of exactly the limit: kept by one rule, dropped by the other.
        assert_eq!(
            scores(nms(0.5, true).keep(all.clone(), 10, Suppress::Above)),
            [0.9, 0.8, 0.7]
        );
        assert_eq!(
            scores(nms(0.5, true).keep(all, 10, Suppress::AtLeast)),
            [0.9, 0.7]
        );
    }

    #[test]
    fn equal_scores_keep_their_order() {
        let d: Vec<Detection> = (0..5)
            .map(|i| boxed(i, 0.5, 20.0 * i as f32, 20.0 * i as f32 + 10.0))
            .collect();
        let kept = Nms {
            iou: 0.5,
            per_class: false,
        }
        .keep(d, 10, Suppress::Above);
        assert_eq!(
            kept.iter().map(|d| d.class).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
    }
}
