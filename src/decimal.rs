//! Numbers as decimal text, to a fixed number of places, without core's
//! float formatting: its shortest and exact algorithms (Grisu, Dragon4)
//! are 13 KB of the component's code, more than every use of them here
//! needs. Every number the component writes (boxes, scores, milliseconds,
//! megapixels) is rounded to a few places first, so the digits come from an
//! integer: the value times 10^places, rounded half away from zero.

/// `v` to exactly `places` decimal places ("16.40"); `None` if it is not
/// finite or too large for its digits to fit a u64.
pub fn fixed(v: f64, places: u32) -> Option<String> {
    text(v, places, false)
}

/// `v` rounded to at most `places` decimal places, without trailing zeros
/// but with at least one place ("512.0", "3.37"): the shortest text that
/// reads back as the rounded value.
pub fn rounded(v: f64, places: u32) -> Option<String> {
    text(v, places, true)
}

fn text(v: f64, places: u32, trim: bool) -> Option<String> {
    let scale = 10u64.checked_pow(places)?;
    let units = (v.abs() * scale as f64).round();
    // 2^64: the first value a u64 cannot hold.
    if units.is_nan() || units >= 18_446_744_073_709_551_616.0 {
        return None;
    }
    let units = units as u64;
    let sign = if v < 0.0 && units > 0 { "-" } else { "" };
    let whole = units / scale;
    if places == 0 {
        return Some(format!("{sign}{whole}"));
    }
    let mut fraction = format!("{:0width$}", units % scale, width = places as usize);
    while trim && fraction.len() > 1 && fraction.ends_with('0') {
        fraction.pop();
    }
    Some(format!("{sign}{whole}.{fraction}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_places() {
        assert_eq!(fixed(16.4, 2).unwrap(), "16.40");
        assert_eq!(fixed(0.004, 2).unwrap(), "0.00");
        assert_eq!(fixed(0.005, 2).unwrap(), "0.01");
        assert_eq!(fixed(2.25, 1).unwrap(), "2.3");
        assert_eq!(fixed(-1.5, 0).unwrap(), "-2");
        assert_eq!(fixed(1234.5678, 3).unwrap(), "1234.568");
    }

    #[test]
    fn rounded_is_the_shortest_text_of_the_rounded_value() {
        assert_eq!(rounded(512.0, 2).unwrap(), "512.0");
        assert_eq!(rounded(205.613, 2).unwrap(), "205.61");
        assert_eq!(rounded(0.736_21, 3).unwrap(), "0.736");
        assert_eq!(rounded(0.5, 3).unwrap(), "0.5");
        assert_eq!(rounded(-3.5, 2).unwrap(), "-3.5");
        assert_eq!(rounded(-0.001, 2).unwrap(), "0.0");
        // The same text as Rust's own shortest formatting of the rounded value.
        for v in [0.0f64, 1.0, 3.37, 67.9, 319.58, 0.882, 12345.67, 99.999] {
            for places in [1, 2, 3] {
                let f = 10f64.powi(places as i32);
                let want = format!("{:?}", (v * f).round() / f);
                assert_eq!(rounded(v, places).unwrap(), want, "{v} to {places}");
            }
        }
    }

    #[test]
    fn what_has_no_digits_is_none() {
        assert_eq!(fixed(f64::NAN, 2), None);
        assert_eq!(rounded(f64::INFINITY, 1), None);
        assert_eq!(rounded(1e30, 2), None);
        assert_eq!(fixed(1.0, 40), None);
    }
}
