//! A JSON reader: text to a tree of values, for the model manifests.
//!
//! Not serde_json, for the component's size: measured in the built
//! component (release, after wasm-opt), serde_json's `Value` parser added
//! 23.6 KB, and serde_json with serde's derived readers for the manifest's
//! types 75.8 KB (past the component's 500 KB budget, with the rest of this
//! change). This reader adds about 6 KB of code. Manifests are a few KB,
//! read once per model and instance; the tests read the same texts with
//! serde_json and compare.

/// A JSON value. Objects keep their members in order. Numbers are read as
/// `f32`, the detector's own floats: a mean of 103.53 is the `f32` that
/// `103.53` is in Rust, and whole numbers are exact up to 2^24.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f32),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object (the first, if repeated).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of value this is, for messages ("a string").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Nesting deeper than this is refused rather than recursed into.
const MAX_DEPTH: usize = 64;

/// Parses one JSON text (RFC 8259); the error says where it went wrong.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = reader
        .value(0)
        .and_then(|v| {
            reader.skip_space();
            match reader.peek() {
                None => Ok(v),
                Some(_) => Err("more text after the value"),
            }
        })
        .map_err(|e| {
            let before = &text.as_bytes()[..reader.at.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            format!("not valid JSON at line {line}, column {column}: {e}")
        })?;
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type Parsed<T> = Result<T, &'static str>;

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `word` if the text continues with it.
    fn eat(&mut self, word: &str) -> bool {
        let found = self.bytes[self.at..].starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    fn value(&mut self, depth: usize) -> Parsed<Value> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply");
        }
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ if self.eat("true") => Ok(Value::Bool(true)),
            _ if self.eat("false") => Ok(Value::Bool(false)),
            _ if self.eat("null") => Ok(Value::Null),
            None => Err("the text ends where a value should be"),
            Some(_) => Err("expected a value"),
        }
    }

    /// The items of an array or the members of an object, after its opening
    /// bracket: `item` reads one, then a comma or `close` follows.
    fn sequence(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Parsed<()>) -> Parsed<()> {
        self.at += 1;
        self.skip_space();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err("expected a comma or the closing bracket"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Parsed<Value> {
        let mut items = Vec::new();
        self.sequence(b']', |r| {
            items.push(r.value(depth + 1)?);
            Ok(())
        })?;
        Ok(Value::Array(items))
    }

    fn object(&mut self, depth: usize) -> Parsed<Value> {
        let mut members = Vec::new();
        self.sequence(b'}', |r| {
            r.skip_space();
            if r.peek() != Some(b'"') {
                return Err("expected a member name in quotes");
            }
            let key = r.string()?;
            r.skip_space();
            if !r.eat(":") {
                return Err("expected a colon after the member name");
            }
            members.push((key, r.value(depth + 1)?));
            Ok(())
        })?;
        Ok(Value::Object(members))
    }

    fn number(&mut self) -> Parsed<Value> {
        let start = self.at;
        let digits = |r: &mut Self| {
            let from = r.at;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.at += 1;
            }
            r.at > from
        };
        self.eat("-");
        if !self.eat("0") && !digits(self) {
            return Err("expected a digit");
        }
        if self.eat(".") && !digits(self) {
            return Err("expected a digit after the decimal point");
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if !self.eat("+") {
                self.eat("-");
            }
            if !digits(self) {
                return Err("expected a digit in the exponent");
            }
        }
        // The grammar above is a subset of what `f32::from_str` takes.
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()
            .and_then(|s| s.parse::<f32>().ok())
            .filter(|v| v.is_finite())
            .map(Value::Number)
            .ok_or("a number out of range")
    }

    fn string(&mut self) -> Parsed<String> {
        self.at += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err("the text ends inside a string");
            };
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err("the text ends inside a string");
                    };
                    self.at += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err("an unknown escape in a string"),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err("a control character in a string"),
                _ => out.push(b),
            }
        }
        // The text is UTF-8 and escapes add whole characters.
        String::from_utf8(out).map_err(|_| "a string that is not UTF-8")
    }

    /// The character of a `\uXXXX` escape (the `\u` read), with the second
    /// half of a surrogate pair.
    fn unicode_escape(&mut self) -> Parsed<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.eat("\\u") {
                    return Err("an unpaired surrogate escape");
                }
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err("an unpaired surrogate escape");
                }
                0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err("an unpaired surrogate escape"),
            code => code,
        };
        char::from_u32(code).ok_or("an escape that is no character")
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let hex = self
            .bytes
            .get(self.at..self.at + 4)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .ok_or("expected four hex digits after \\u")?;
        self.at += 4;
        let hex = std::str::from_utf8(hex).map_err(|_| "expected hex digits")?;
        u32::from_str_radix(hex, 16).map_err(|_| "expected hex digits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json's tree of the same text, as ours.
    fn from_serde(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap() as f32),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(from_serde).collect()),
            serde_json::Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), from_serde(v))).collect())
            }
        }
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let texts = [
            r#"{"a": [1, -2.5, 3e2, 0.125E-1, -0], "b": {"c": null, "d": true, "e": false}}"#,
            r#"  "esc\"apes\\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 é"  "#,
            "[]",
            "{}",
            "[[[[]]], {\"\": \"\"}]",
            "123456789012345678901234567890",
        ];
        // serde_json sorts object members by name (without its
        // `preserve_order` feature); ours keep the text's order.
        fn sorted(v: Value) -> Value {
            match v {
                Value::Object(m) => {
                    let mut m: Vec<_> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                    m.sort_by(|a, b| a.0.cmp(&b.0));
                    Value::Object(m)
                }
                Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
                v => v,
            }
        }
        for text in texts {
            let want: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(sorted(parse(text).unwrap()), from_serde(&want), "{text}");
        }
        // The real manifests.
        for model in ["nanodet", "centernet"] {
            let path = format!(
                "{}/models/{model}/manifest.json",
                env!("CARGO_MANIFEST_DIR")
            );
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue; // `make model` has not run: the texts above still count
            };
            let want: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(sorted(parse(&text).unwrap()), from_serde(&want), "{path}");
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses_and_says_where() {
        for text in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\": 1,}",
            "{a: 1}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "1e999",
            "\"tab\tinside\"",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"open",
            "nul",
            "[1] 2",
            "NaN",
        ] {
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_err(),
                "serde_json takes {text:?}"
            );
            assert!(parse(text).is_err(), "{text:?} was taken");
        }
        let e = parse("{\n  \"a\": [1,\n    2,,]\n}").unwrap_err();
        assert!(e.contains("line 3, column 7"), "{e}");
        // Deep nesting is an error, not a stack overflow.
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).unwrap_err().contains("nested too deeply"));
    }

    #[test]
    fn members_by_name() {
        let v = parse(r#"{"a": 1, "b": "x", "a": 2}"#).unwrap();
        assert_eq!(v.get("a"), Some(&Value::Number(1.0)));
        assert_eq!(v.get("b").map(Value::kind), Some("a string"));
        assert_eq!(v.get("c"), None);
        assert_eq!(Value::Null.get("a"), None);
    }
}
