//! A model's class names, one a line of its folder's `labels.txt`, in the
//! order of its scores: line 1 is class 0. Read with the manifest when the
//! model is first used, so a model folder names its own classes.

/// All class names of a model, index = class id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels(Vec<String>);

impl Labels {
    /// The names in `labels.txt`'s text: one a line, surrounding spaces
    /// trimmed, blank lines skipped.
    pub fn parse(text: &str) -> Labels {
        let names = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string);
        Labels(names.collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Name of a class id; ids beyond the list are named by number rather
    /// than dropped.
    pub fn name(&self, class: usize) -> std::borrow::Cow<'_, str> {
        match self.0.get(class) {
            Some(name) => name.as_str().into(),
            None => format!("class_{class}").into(),
        }
    }

    /// Class id of a name, ignoring ASCII case and surrounding spaces.
    pub fn id(&self, name: &str) -> Option<usize> {
        self.0
            .iter()
            .position(|l| l.eq_ignore_ascii_case(name.trim()))
    }

    /// The first few names, to show what a model knows.
    pub fn examples(&self, n: usize) -> Vec<&str> {
        self.0.iter().take(n).map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COCO: &str = include_str!("../models/nanodet/labels.txt");

    #[test]
    fn one_name_a_line_in_score_order() {
        let labels = Labels::parse(COCO);
        assert_eq!(labels.len(), 80);
        assert_eq!(labels.name(0), "person");
        assert_eq!(labels.name(4), "airplane");
        assert_eq!(labels.name(79), "toothbrush");
        assert_eq!(
            Labels::parse(" cat \r\n\n dog\n").examples(5),
            ["cat", "dog"]
        );
    }

    #[test]
    fn names_and_ids_round_trip() {
        let labels = Labels::parse(COCO);
        assert_eq!(labels.id("Traffic Light"), Some(9));
        assert_eq!(labels.name(9), "traffic light");
        assert_eq!(labels.id("unicorn"), None);
        assert_eq!(labels.name(80), "class_80");
    }
}
