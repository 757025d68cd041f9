//! Which route a request's method and path ask for, or the 404 or 405 to
//! answer.

use super::error::ApiError;
use super::files::{example_type, static_file, StaticFile};

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Predict,
    Warm,
    /// The models this deployment serves.
    Models,
    /// The demo page.
    Page,
    /// The names of the example photos.
    Examples,
    /// One example photo, by file name.
    Example(String),
    /// A file of the models folder served as it is, for private mode (the
    /// detector running in the visitor's browser).
    File(StaticFile),
    /// A CORS preflight (`OPTIONS`) for one of the routes above.
    Preflight,
}

/// Where the example photos are served from, under the routes' root.
pub const EXAMPLES_PATH: &str = "/examples";

/// Which route `method` + `path` is, or the 404/405 to answer.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let not_found = || {
        ApiError::new(
            404,
            "not_found",
            format!(
                "no route {path}; the API has POST /predict, GET /warm, GET /models, the page at GET /, \
                 its example photos at GET /examples/<name>, and the files of private mode at \
                 GET /wasi-detect.js, GET /browser/<dir>/<file> and GET /models/<name>/<file>"
            ),
        )
    };
    let (route, allowed) = match path {
        "/predict" => (Route::Predict, "POST"),
        "/warm" => (Route::Warm, "GET"),
        "/models" => (Route::Models, "GET"),
        "/" => (Route::Page, "GET"),
        EXAMPLES_PATH => (Route::Examples, "GET"),
        _ => {
            let example = path
                .strip_prefix(EXAMPLES_PATH)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|name| example_type(name).is_some())
                .map(|name| Route::Example(name.to_string()));
            let route = example
                .or_else(|| static_file(path).map(Route::File))
                .ok_or_else(not_found)?;
            (route, "GET")
        }
    };
    match method {
        "OPTIONS" => Ok(Route::Preflight),
        m if m == allowed => Ok(route),
        _ => Err(ApiError {
            allow: Some(allowed),
            ..ApiError::new(
                405,
                "method_not_allowed",
                format!("{path} takes {allowed}, not {method}"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_methods_and_unknown_paths() {
        assert_eq!(route("POST", "/predict"), Ok(Route::Predict));
        assert_eq!(route("POST", "/predict/"), Ok(Route::Predict));
        assert_eq!(route("GET", "/warm"), Ok(Route::Warm));
        assert_eq!(route("GET", "/models"), Ok(Route::Models));
        assert_eq!(route("POST", "/models").unwrap_err().status, 405);
        assert_eq!(route("OPTIONS", "/predict"), Ok(Route::Preflight));
        let e = route("GET", "/predict").unwrap_err();
        assert_eq!(
            (e.status, e.code, e.allow),
            (405, "method_not_allowed", Some("POST"))
        );
        assert_eq!(route("POST", "/warm").unwrap_err().status, 405);
        assert_eq!(route("GET", "/nope").unwrap_err().status, 404);
        assert_eq!(route("GET", "/"), Ok(Route::Page));
        assert_eq!(route("POST", "/").unwrap_err().status, 405);
        assert_eq!(route("GET", "/examples/"), Ok(Route::Examples));
        assert_eq!(
            route("GET", "/examples/cat.JPG"),
            Ok(Route::Example("cat.JPG".into()))
        );
        for bad in [
            "/examples/../models/nanodet/model.onnx",
            "/examples/a/b.png",
            "/examples/.hidden.png",
            "/examples/model.onnx",
            "/examples/%2e%2e.png",
        ] {
            assert_eq!(route("GET", bad).unwrap_err().status, 404, "{bad}");
        }
    }
}
