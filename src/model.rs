//! A model is a folder of data: `<models dir>/<name>/` holds its weights
//! (`model.onnx`, or OpenVINO's `model.xml` + `model.bin`), `manifest.json`
//! (how to feed it and read its outputs: [`crate::manifest`]) and its
//! labels file. The name is the folder's, and the host's `load-by-name`
//! name for the same weights. Nothing about a model is compiled into the
//! detector: its manifest and labels are read when an instance first uses
//! it, and kept with its graph.

use crate::labels::Labels;
use crate::manifest::Manifest;
use crate::settings::Settings;

/// A model's description, read from its folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    /// The folder, `<models dir>/<name>`.
    pub dir: String,
    pub manifest: Manifest,
    pub labels: Labels,
}

/// The file every model folder has.
pub const MANIFEST: &str = "manifest.json";

/// The folder of model `name` under `models_dir`.
pub fn folder(models_dir: &str, name: &str) -> String {
    format!("{}/{name}", models_dir.trim_end_matches('/'))
}

impl Model {
    /// Reads model `name`'s manifest and labels from its folder under
    /// `models_dir`. The error names the file, and the field at fault.
    pub fn read(models_dir: &str, name: &str) -> Result<Model, String> {
        let dir = folder(models_dir, name);
        let read = |file: &str| {
            let path = format!("{dir}/{file}");
            std::fs::read(&path)
                .map_err(|e| format!("{path} could not be read ({e})"))
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8 text"))
                })
        };
        let manifest_path = format!("{dir}/{MANIFEST}");
        let manifest =
            Manifest::parse(&read(MANIFEST)?).map_err(|e| format!("{manifest_path}: {e}"))?;
        let labels = Labels::parse(&read(&manifest.labels_file)?);
        if labels.len() != manifest.classes {
            return Err(format!(
                "{dir}/{} has {} names, but {manifest_path}'s labels.count says {}",
                manifest.labels_file,
                labels.len(),
                manifest.classes
            ));
        }
        Ok(Model {
            name: name.to_string(),
            dir,
            manifest,
            labels,
        })
    }
}

/// The models a deployment serves, by name: those its settings list, or
/// else every model folder; with the default model always among them.
pub fn served(settings: &Settings) -> Vec<String> {
    let mut names = match &settings.models {
        Some(names) => names.clone(),
        None => discover(&settings.models_dir),
    };
    if !names.contains(&settings.model) {
        names.insert(0, settings.model.clone());
    }
    names
}

/// The models in `models_dir`: the folders with a manifest, by name.
pub fn discover(models_dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(models_dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| crate::settings::model_name(name).is_ok())
        // Opened rather than looked at: the component has the code to open
        // files already, and the stat's would cost 2 KB of it.
        .filter(|name| {
            std::fs::File::open(format!("{}/{MANIFEST}", folder(models_dir, name))).is_ok()
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::{CENTERNET, NANODET};
    use std::path::PathBuf;

    /// A models folder of its own under the system's temporary folder.
    struct Folder(PathBuf);

    impl Folder {
        fn new(name: &str) -> Folder {
            let path =
                std::env::temp_dir().join(format!("wasi-detect-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Folder(path)
        }

        fn put(&self, file: &str, text: &str) {
            let path = self.0.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn dir(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const LABELS: &str = include_str!("../models/nanodet/labels.txt");

    #[test]
    fn a_folder_with_a_manifest_and_labels_is_a_model() {
        let f = Folder::new("model-read");
        f.put("nanodet/manifest.json", NANODET);
        f.put("nanodet/labels.txt", LABELS);
        f.put("centernet/manifest.json", CENTERNET);
        f.put("centernet/labels.txt", LABELS);
        f.put("examples/a.jpg", "");
        f.put("notes.txt", "");
        f.put(".hidden/manifest.json", NANODET);
        assert_eq!(discover(f.dir()), ["centernet", "nanodet"]);
        assert_eq!(discover("/no/such/folder"), Vec::<String>::new());
        let mut settings = Settings {
            models_dir: f.dir().into(),
            ..Settings::default()
        };
        assert_eq!(served(&settings), ["centernet", "nanodet"]);
        settings.model = "other".into();
        assert_eq!(served(&settings), ["other", "centernet", "nanodet"]);
        settings.models = Some(vec!["centernet".into()]);
        assert_eq!(served(&settings), ["other", "centernet"]);

        let m = Model::read(&format!("{}/", f.dir()), "nanodet").unwrap();
        assert_eq!(m.dir, format!("{}/nanodet", f.dir()));
        assert_eq!(m.labels.name(0), "person");
        assert_eq!(m.manifest.preprocess.side, 416);
    }

    #[test]
    fn problems_name_the_file_and_the_field() {
        let f = Folder::new("model-problems");
        let e = Model::read(f.dir(), "missing").unwrap_err();
        assert!(
            e.contains("/missing/manifest.json could not be read"),
            "{e}"
        );

        f.put(
            "broken/manifest.json",
            &NANODET.replace(r#""family": "nanodet""#, r#""family": "detr""#),
        );
        let e = Model::read(f.dir(), "broken").unwrap_err();
        assert!(
            e.contains("/broken/manifest.json: decoder.family: 'detr'"),
            "{e}"
        );

        f.put("short/manifest.json", NANODET);
        let e = Model::read(f.dir(), "short").unwrap_err();
        assert!(e.contains("/short/labels.txt could not be read"), "{e}");
        f.put("short/labels.txt", "person\ncar\n");
        let e = Model::read(f.dir(), "short").unwrap_err();
        assert!(
            e.contains("/short/labels.txt has 2 names, but") && e.contains("labels.count says 80"),
            "{e}"
        );
    }
}
