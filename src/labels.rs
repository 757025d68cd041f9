//! Class names of the default model, in the order of its `scores` output.
//!
//! The list is `models/nanodet/labels.txt`, embedded at build time so the
//! component needs no file to name what it finds.

use std::sync::OnceLock;

const LABELS_TXT: &str = include_str!("../models/nanodet/labels.txt");

/// All class names, index = class id.
pub fn all() -> &'static [&'static str] {
    static LABELS: OnceLock<Vec<&'static str>> = OnceLock::new();
    LABELS.get_or_init(|| {
        LABELS_TXT
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Name of a class id; ids beyond the list (a model with more classes than
/// labels) are named by number rather than dropped.
pub fn name(class: usize) -> std::borrow::Cow<'static, str> {
    match all().get(class) {
        Some(name) => (*name).into(),
        None => format!("class_{class}").into(),
    }
}

/// Class id of a name, ignoring ASCII case.
pub fn id(name: &str) -> Option<usize> {
    all()
        .iter()
        .position(|l| l.eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NUM_CLASSES;

    #[test]
    fn one_label_per_class() {
        assert_eq!(all().len(), NUM_CLASSES);
        assert_eq!(all()[0], "person");
        assert_eq!(all()[4], "airplane");
        assert_eq!(all()[79], "toothbrush");
    }

    #[test]
    fn names_and_ids_round_trip() {
        assert_eq!(id("Traffic Light"), Some(9));
        assert_eq!(name(9), "traffic light");
        assert_eq!(id("unicorn"), None);
        assert_eq!(name(80), "class_80");
    }
}
