//! The default model's interface: NanoDet-g 416, COCO (80 classes).
//!
//! Every number the pre- and post-processing needs about the model lives here,
//! so a model with another input size or head is a change in one place.

/// Side of the square input tensor, in pixels.
pub const INPUT_SIZE: usize = 416;

/// Shape of the input tensor: NCHW, batch 1, BGR planes.
pub const INPUT_SHAPE: [u32; 4] = [1, 3, INPUT_SIZE as u32, INPUT_SIZE as u32];

/// Name of the input tensor in the converted model.
pub const INPUT_NAME: &str = "input";

/// Per-channel mean and standard deviation, in the model's channel order (B, G, R).
pub const MEAN_BGR: [f32; 3] = [103.53, 116.28, 123.675];
pub const STD_BGR: [f32; 3] = [57.375, 57.12, 58.395];

/// Number of classes the `scores` output has per row.
pub const NUM_CLASSES: usize = 80;

/// Bins of the distance distribution for each side of a box (`reg_max + 1`).
pub const DIST_BINS: usize = 11;

/// Values per row of the `box_dist` output: left, top, right, bottom.
pub const BOX_DIST_WIDTH: usize = 4 * DIST_BINS;

/// Feature-map strides of the three heads, in the order their rows appear.
pub const STRIDES: [usize; 3] = [8, 16, 32];

/// Rows of both outputs: one per cell of the 52x52, 26x26 and 13x13 grids.
pub const NUM_ROWS: usize = grid_cells(8) + grid_cells(16) + grid_cells(32);

/// IoU above which a box suppresses a weaker one of the same class.
pub const NMS_IOU: f32 = 0.6;

/// Which of the graph's outputs are `scores` and `box_dist`, by name or, when
/// a backend names outputs by index, by shape (`[.., NUM_ROWS, NUM_CLASSES]`
/// and `[.., NUM_ROWS, BOX_DIST_WIDTH]`).
pub fn output_roles(outputs: &[(&str, &[u32])]) -> Result<(usize, usize), String> {
    let by_name = |name: &str| outputs.iter().position(|(n, _)| *n == name);
    let by_shape = |width: usize| {
        outputs.iter().position(|(_, dims)| {
            let elements: u64 = dims.iter().map(|&d| u64::from(d)).product();
            dims.last() == Some(&(width as u32)) && elements == (NUM_ROWS * width) as u64
        })
    };
    let scores = by_name("scores").or_else(|| by_shape(NUM_CLASSES));
    let box_dist = by_name("box_dist").or_else(|| by_shape(BOX_DIST_WIDTH));
    match (scores, box_dist) {
        (Some(s), Some(b)) if s != b => Ok((s, b)),
        _ => Err(format!(
            "the model's outputs {:?} are not scores [1,{NUM_ROWS},{NUM_CLASSES}] and box_dist [1,{NUM_ROWS},{BOX_DIST_WIDTH}]",
            outputs
        )),
    }
}

const fn grid_cells(stride: usize) -> usize {
    let n = INPUT_SIZE.div_ceil(stride);
    n * n
}

/// Centre and stride of every output row, in input-tensor pixels.
pub fn anchors() -> impl Iterator<Item = (f32, f32, f32)> {
    STRIDES.iter().flat_map(|&stride| {
        let n = INPUT_SIZE.div_ceil(stride);
        (0..n * n).map(move |j| {
            let (col, row) = (j % n, j / n);
            let s = stride as f32;
            ((col as f32 + 0.5) * s, (row as f32 + 0.5) * s, s)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_match_the_model_outputs() {
        assert_eq!(NUM_ROWS, 3549);
        assert_eq!(anchors().count(), NUM_ROWS);
    }

    #[test]
    fn outputs_are_found_by_name_or_by_shape() {
        let s: &[u32] = &[1, 3549, 80];
        let b: &[u32] = &[1, 3549, 44];
        assert_eq!(output_roles(&[("box_dist", b), ("scores", s)]), Ok((1, 0)));
        assert_eq!(output_roles(&[("0", s), ("1", b)]), Ok((0, 1)));
        assert_eq!(output_roles(&[("1", b), ("0", s)]), Ok((1, 0)));
        assert!(output_roles(&[("0", s)]).is_err());
        assert!(output_roles(&[("0", &[1, 10, 80]), ("1", b)]).is_err());
    }

    #[test]
    fn anchors_follow_the_level_layout() {
        let all: Vec<_> = anchors().collect();
        assert_eq!(all[0], (4.0, 4.0, 8.0));
        // Row 53 of the first level is cell (1, 1).
        assert_eq!(all[53], (12.0, 12.0, 8.0));
        // The first row of the 16-stride level.
        assert_eq!(all[2704], (8.0, 8.0, 16.0));
        // The last row: cell (12, 12) of the 32-stride level.
        assert_eq!(all[3548], (400.0, 400.0, 32.0));
    }
}
