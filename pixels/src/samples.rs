//! Rows of 8-bit samples as RGB: grey repeated, alpha dropped.

/// `channels` samples a pixel (1 grey, 2 grey and alpha, 3 RGB, 4 RGBA)
/// into `out`, 3 bytes a pixel, for as many pixels as both hold.
pub fn to_rgb(channels: usize, samples: &[u8], out: &mut [u8]) {
    let pixels = out.chunks_exact_mut(3);
    match channels {
        1 => pixels.zip(samples).for_each(|(o, &v)| o.fill(v)),
        2 => pixels
            .zip(samples.chunks_exact(2))
            .for_each(|(o, s)| o.fill(s[0])),
        3 => {
            let n = out.len().min(samples.len());
            out[..n].copy_from_slice(&samples[..n]);
        }
        _ => pixels
            .zip(samples.chunks_exact(channels.max(1)))
            .for_each(|(o, s)| o.copy_from_slice(&s[..3])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_count() {
        let mut out = [0u8; 6];
        to_rgb(1, &[7, 9], &mut out);
        assert_eq!(out, [7, 7, 7, 9, 9, 9]);
        to_rgb(2, &[7, 255, 9, 0], &mut out);
        assert_eq!(out, [7, 7, 7, 9, 9, 9]);
        to_rgb(3, &[1, 2, 3, 4, 5, 6], &mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
        to_rgb(4, &[1, 2, 3, 0, 4, 5, 6, 0], &mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    }
}
