//! EXIF orientation: the tag that says how a photo was stored, and the
//! pixels turned so boxes are in the image as people see it.

use super::RgbImage;

/// The Orientation tag (0x0112) of an EXIF block (a TIFF structure), 1 when
/// it is missing or unreadable.
pub(super) fn exif_orientation(exif: &[u8]) -> u16 {
    // Some writers keep the "Exif\0\0" prefix of the JPEG segment.
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let little = match tiff.get(..4) {
        Some([b'I', b'I', 42, 0]) => true,
        Some([b'M', b'M', 0, 42]) => false,
        _ => return 1,
    };
    let u16_at = |at: usize| {
        let b = tiff.get(at..at + 2)?;
        Some(if little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| {
        let b = tiff.get(at..at + 4)?;
        Some(if little {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let find = || -> Option<u16> {
        let ifd = u32_at(4)? as usize;
        let entries = u16_at(ifd)?;
        (0..usize::from(entries))
            .map(|k| ifd + 2 + 12 * k)
            .find(|&entry| u16_at(entry) == Some(0x0112))
            // Type SHORT (3), count 1: the value sits in the entry itself.
            .and_then(|entry| u16_at(entry + 8))
    };
    find().filter(|o| (1..=8).contains(o)).unwrap_or(1)
}

/// The image as displayed, given how its EXIF Orientation tag says it is
/// stored (`pixels::orient`).
pub(super) fn upright(image: RgbImage, orientation: u16) -> RgbImage {
    if !(2..=8).contains(&orientation) {
        return image;
    }
    let (pixels, out_w, out_h) = pixels::orient::upright(
        &image.pixels,
        image.width as usize,
        image.height as usize,
        orientation,
    );
    let turned = orientation >= 5;
    let (photo_width, photo_height) = if turned {
        (image.photo_height, image.photo_width)
    } else {
        (image.photo_width, image.photo_height)
    };
    RgbImage {
        width: out_w as u32,
        height: out_h as u32,
        pixels,
        reduction: image.reduction,
        photo_width,
        photo_height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn upright_agrees_with_the_image_crate_for_all_eight_orientations() {
        use image::metadata::Orientation;
        let stored = image::RgbImage::from_fn(3, 2, |x, y| Rgb([x as u8, y as u8, 0]));
        let ours = RgbImage::full(3, 2, stored.as_raw().clone());
        for tag in 1..=8 {
            let mut want = image::DynamicImage::ImageRgb8(stored.clone());
            want.apply_orientation(Orientation::from_exif(tag as u8).unwrap());
            let want = want.into_rgb8();
            let got = upright(ours.clone(), tag);
            assert_eq!(
                (got.width, got.height, got.pixels),
                (want.width(), want.height(), want.into_raw()),
                "orientation {tag}"
            );
        }
    }

    #[test]
    fn exif_orientation_in_both_byte_orders_and_broken_blocks() {
        let entry = |little: bool| -> Vec<u8> {
            let mut t = if little {
                b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0".to_vec()
            } else {
                b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0".to_vec()
            };
            t.extend_from_slice(&[0; 4]);
            t
        };
        assert_eq!(exif_orientation(&entry(true)), 6);
        assert_eq!(exif_orientation(&entry(false)), 6);
        let mut prefixed = b"Exif\0\0".to_vec();
        prefixed.extend(entry(false));
        assert_eq!(exif_orientation(&prefixed), 6);
        // Cut short, pointing past its end, or an impossible value: as stored.
        assert_eq!(exif_orientation(&entry(true)[..12]), 1);
        let mut far = entry(true);
        far[4] = 0xF0;
        assert_eq!(exif_orientation(&far), 1);
        let mut nine = entry(true);
        nine[18] = 9;
        assert_eq!(exif_orientation(&nine), 1);
        assert_eq!(exif_orientation(b""), 1);
    }
}
