//! Pixels turned or mirrored as their EXIF orientation says, so they are
//! as displayed.

/// The size (width, height) a `width` x `height` image stored with EXIF
/// Orientation `orientation` is displayed at: 5 to 8 swap the sides.
pub fn displayed_size<T>(width: T, height: T, orientation: u16) -> (T, T) {
    if (5..=8).contains(&orientation) {
        (height, width)
    } else {
        (width, height)
    }
}

/// RGB8 pixels stored `width` x `height` with EXIF Orientation
/// `orientation` (2 mirrored, 3 upside down, 4 flipped, 5 transposed, 6
/// turned a quarter counter-clockwise, 7 transversed, 8 turned clockwise),
/// as displayed: `(pixels, width, height)`. Any other value: as stored.
pub fn upright(
    pixels: &[u8],
    width: usize,
    height: usize,
    orientation: u16,
) -> (Vec<u8>, usize, usize) {
    let (w, h) = (width as isize, height as isize);
    let at = |x: isize, y: isize| y * w + x;
    // The stored pixel shown at (x, y) is `origin + x * step_x + y * step_y`.
    let (origin, step_x, step_y) = match orientation {
        2 => (at(w - 1, 0), -1, w),
        3 => (at(w - 1, h - 1), -1, -w),
        4 => (at(0, h - 1), 1, -w),
        5 => (at(0, 0), w, 1),
        6 => (at(0, h - 1), -w, 1),
        7 => (at(w - 1, h - 1), -w, -1),
        8 => (at(w - 1, 0), w, -1),
        _ => return (pixels.to_vec(), width, height),
    };
    let (out_w, out_h) = displayed_size(width, height, orientation);
    let mut out = vec![0u8; width * height * 3];
    for (y, row) in out.chunks_exact_mut(out_w * 3).enumerate().take(out_h) {
        let mut stored = origin + y as isize * step_y;
        for px in row.chunks_exact_mut(3) {
            let i = stored as usize * 3;
            px.copy_from_slice(&pixels[i..i + 3]);
            stored += step_x;
        }
    }
    (out, out_w, out_h)
}
