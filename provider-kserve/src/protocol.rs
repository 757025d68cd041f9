//! The Open Inference Protocol (KServe v2) over REST, as bytes: the model's
//! metadata, the infer request with the binary tensor data extension, and
//! its answer. Pure: no host bindings, tested natively.
//!
//! An infer request is a JSON header followed by each input's raw bytes
//! (`binary_data_size` says how many are each input's; the HTTP header
//! `Inference-Header-Content-Length` says where the JSON ends), and asks for
//! every output in binary (`binary_data_output`). JSON numbers would make
//! NanoDet's 2 MB input 5 to 10 MB and cost a parse of half a million numbers
//! in wasm. An answer's outputs are read in binary, or from JSON `data` from
//! a server without the extension.

use serde::Deserialize;
use std::fmt::Write;

/// The HTTP header that says how long an infer request's or answer's JSON
/// header is, when binary tensors follow it.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// A tensor's element type as v2 names it: those wasi-nn has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    Fp16,
    Fp32,
    Fp64,
    Bf16,
    Uint8,
    Int32,
    Int64,
}

impl DataType {
    const ALL: [(DataType, &'static str, usize); 7] = [
        (DataType::Fp16, "FP16", 2),
        (DataType::Fp32, "FP32", 4),
        (DataType::Fp64, "FP64", 8),
        (DataType::Bf16, "BF16", 2),
        (DataType::Uint8, "UINT8", 1),
        (DataType::Int32, "INT32", 4),
        (DataType::Int64, "INT64", 8),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, ..)| *t == self)
            .map_or("", |e| e.1)
    }

    pub fn parse(name: &str) -> Option<DataType> {
        Self::ALL.iter().find(|e| e.1 == name).map(|e| e.0)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        Self::ALL
            .iter()
            .find(|(t, ..)| *t == self)
            .map_or(0, |e| e.2)
    }
}

/// An input or output as the model's metadata declares it: -1 for a
/// dimension of any size.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Declared {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{name}`: what the model takes and gives.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Metadata {
    pub name: String,
    pub inputs: Vec<Declared>,
    pub outputs: Vec<Declared>,
}

/// A tensor with its bytes (little-endian, as wasi-nn and v2 keep them).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
}

/// The bytes a tensor of `shape` and `datatype` has; `None` past `usize`.
pub fn byte_size(shape: &[u64], datatype: DataType) -> Option<usize> {
    shape.iter().try_fold(datatype.size(), |n, &d| {
        usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
    })
}

impl Metadata {
    /// The largest infer answer the model's outputs can make: their bytes,
    /// room for a JSON header, and for JSON numbers from a server without
    /// the binary extension (up to 12 characters a byte); at most `cap`,
    /// which is also the bound when an output has a dimension of any size.
    pub fn max_answer(&self, cap: usize) -> usize {
        let sizes: Option<Vec<usize>> = self
            .outputs
            .iter()
            .map(|o| {
                let shape: Option<Vec<u64>> =
                    o.shape.iter().map(|&d| u64::try_from(d).ok()).collect();
                byte_size(&shape?, DataType::parse(&o.datatype)?)
            })
            .collect();
        match sizes {
            Some(sizes) => sizes
                .iter()
                .sum::<usize>()
                .saturating_mul(12)
                .saturating_add(1 << 20)
                .min(cap),
            None => cap,
        }
    }
}

/// Reads a model's metadata.
pub fn parse_metadata(body: &[u8]) -> Result<Metadata, String> {
    serde_json::from_slice(body).map_err(|e| format!("its model metadata is not v2's: {e}"))
}

/// Whether `shape` fits a declared shape (-1: any size).
fn fits(declared: &[i64], shape: &[u64]) -> bool {
    declared.len() == shape.len()
        && declared
            .iter()
            .zip(shape)
            .all(|(&d, &s)| d < 0 || u64::try_from(d) == Ok(s))
}

fn describe_shape(shape: &[u64]) -> String {
    format!("{shape:?}")
}

/// Checks inputs against the model's metadata before they are sent: every
/// declared input given once, with its datatype and a shape that fits.
pub fn check_inputs(metadata: &Metadata, inputs: &[Tensor]) -> Result<(), String> {
    for input in inputs {
        let declared = metadata
            .inputs
            .iter()
            .find(|d| d.name == input.name)
            .ok_or_else(|| {
                let names: Vec<&str> = metadata.inputs.iter().map(|d| d.name.as_str()).collect();
                format!(
                    "model '{}' has no input '{}' (its inputs: {})",
                    metadata.name,
                    input.name,
                    names.join(", ")
                )
            })?;
        if declared.datatype != input.datatype.name() {
            return Err(format!(
                "input '{}' of model '{}' is {}, not {}",
                input.name,
                metadata.name,
                declared.datatype,
                input.datatype.name()
            ));
        }
        if !fits(&declared.shape, &input.shape) {
            return Err(format!(
                "input '{}' of model '{}' has shape {:?} (-1: any size), not {}",
                input.name,
                metadata.name,
                declared.shape,
                describe_shape(&input.shape)
            ));
        }
    }
    for declared in &metadata.inputs {
        if inputs.iter().filter(|i| i.name == declared.name).count() != 1 {
            return Err(format!(
                "model '{}' takes input '{}' once",
                metadata.name, declared.name
            ));
        }
    }
    Ok(())
}

/// The infer request's JSON header for `inputs`, whose bytes follow it in
/// this order; every output is asked for in binary.
pub fn infer_header(inputs: &[Tensor]) -> Vec<u8> {
    let mut json = String::from(r#"{"inputs":["#);
    for (i, input) in inputs.iter().enumerate() {
        let shape: Vec<String> = input.shape.iter().map(u64::to_string).collect();
        let _ = write!(
            json,
            r#"{}{{"name":{},"shape":[{}],"datatype":"{}","parameters":{{"binary_data_size":{}}}}}"#,
            if i == 0 { "" } else { "," },
            serde_json::Value::from(input.name.as_str()),
            shape.join(","),
            input.datatype.name(),
            input.data.len()
        );
    }
    json.push_str(r#"],"parameters":{"binary_data_output":true}}"#);
    json.into_bytes()
}

#[derive(Deserialize)]
struct Answer {
    outputs: Vec<AnswerOutput>,
}

#[derive(Deserialize)]
struct AnswerOutput {
    name: String,
    datatype: String,
    shape: Vec<u64>,
    #[serde(default)]
    parameters: Option<Parameters>,
    /// JSON numbers, from a server without the binary extension.
    #[serde(default)]
    data: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct Parameters {
    binary_data_size: Option<usize>,
}

/// Reads an infer answer: `header_length` is its
/// `Inference-Header-Content-Length` (none: the body is all JSON).
pub fn parse_answer(header_length: Option<usize>, body: &[u8]) -> Result<Vec<Tensor>, String> {
    let json_end = header_length.unwrap_or(body.len());
    let json = body.get(..json_end).ok_or_else(|| {
        format!(
            "its answer is {} bytes, shorter than its JSON header ({json_end})",
            body.len()
        )
    })?;
    let answer: Answer =
        serde_json::from_slice(json).map_err(|e| format!("its answer is not v2's: {e}"))?;
    let mut at = json_end;
    let mut tensors = Vec::with_capacity(answer.outputs.len());
    for output in answer.outputs {
        let datatype = DataType::parse(&output.datatype).ok_or_else(|| {
            format!(
                "output '{}' is {}, which wasi-nn has no type for",
                output.name, output.datatype
            )
        })?;
        let size = byte_size(&output.shape, datatype)
            .ok_or_else(|| format!("output '{}' has a shape too large", output.name))?;
        let binary = output.parameters.and_then(|p| p.binary_data_size);
        let data = match (binary, output.data) {
            (Some(n), _) => {
                if n != size {
                    return Err(format!(
                        "output '{}' has {n} bytes, but its shape {} of {} takes {size}",
                        output.name,
                        describe_shape(&output.shape),
                        datatype.name()
                    ));
                }
                let bytes = body.get(at..at + n).ok_or_else(|| {
                    format!(
                        "its answer ends before output '{}' does ({} bytes, {} needed)",
                        output.name,
                        body.len(),
                        at + n
                    )
                })?;
                at += n;
                bytes.to_vec()
            }
            (None, Some(values)) => json_values(&output.name, datatype, &values, size)?,
            (None, None) => return Err(format!("output '{}' has no data", output.name)),
        };
        tensors.push(Tensor {
            name: output.name,
            datatype,
            shape: output.shape,
            data,
        });
    }
    if at != body.len() {
        return Err(format!(
            "its answer has {} bytes after its outputs",
            body.len() - at
        ));
    }
    Ok(tensors)
}

/// An output's JSON numbers as little-endian bytes.
fn json_values(
    name: &str,
    datatype: DataType,
    values: &[serde_json::Value],
    size: usize,
) -> Result<Vec<u8>, String> {
    if values.len() * datatype.size() != size {
        return Err(format!(
            "output '{name}' has {} values, not as many as its shape",
            values.len()
        ));
    }
    let mut bytes = Vec::with_capacity(size);
    for value in values {
        let wrong = || format!("output '{name}' has {value}, not a {}", datatype.name());
        match datatype {
            DataType::Fp32 => {
                bytes.extend((value.as_f64().ok_or_else(wrong)? as f32).to_le_bytes())
            }
            DataType::Fp64 => bytes.extend(value.as_f64().ok_or_else(wrong)?.to_le_bytes()),
            DataType::Int64 => bytes.extend(value.as_i64().ok_or_else(wrong)?.to_le_bytes()),
            DataType::Int32 => bytes.extend(
                i32::try_from(value.as_i64().ok_or_else(wrong)?)
                    .map_err(|_| wrong())?
                    .to_le_bytes(),
            ),
            DataType::Uint8 => {
                bytes.push(u8::try_from(value.as_u64().ok_or_else(wrong)?).map_err(|_| wrong())?)
            }
            DataType::Fp16 | DataType::Bf16 => {
                return Err(format!(
                    "output '{name}' is {} in JSON; ask for it in binary",
                    datatype.name()
                ))
            }
        }
    }
    Ok(bytes)
}

/// Checks an answer's outputs against the model's metadata: each declared
/// output's datatype and shape, where the metadata gives them.
pub fn check_outputs(metadata: &Metadata, outputs: &[Tensor]) -> Result<(), String> {
    for output in outputs {
        let Some(declared) = metadata.outputs.iter().find(|d| d.name == output.name) else {
            continue;
        };
        if declared.datatype != output.datatype.name() || !fits(&declared.shape, &output.shape) {
            return Err(format!(
                "it answered output '{}' as {} {}, but its metadata says {} {:?}",
                output.name,
                output.datatype.name(),
                describe_shape(&output.shape),
                declared.datatype,
                declared.shape
            ));
        }
    }
    Ok(())
}

/// What a server said in an error answer: v2's `{"error": "..."}`, or the
/// start of its body.
pub fn error_text(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct V2Error {
        error: String,
    }
    if let Ok(e) = serde_json::from_slice::<V2Error>(body) {
        return e.error;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None if text.is_empty() => "no message".into(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanodet() -> Metadata {
        parse_metadata(
            br#"{"name":"nanodet","versions":null,"platform":"","inputs":[{"name":"input","datatype":"FP32","shape":[1,3,416,416]}],"outputs":[{"name":"scores","datatype":"FP32","shape":[1,-1,80]},{"name":"box_dist","datatype":"FP32","shape":[1,3549,44]}]}"#,
        )
        .unwrap()
    }

    fn tensor(name: &str, datatype: DataType, shape: &[u64], data: Vec<u8>) -> Tensor {
        Tensor {
            name: name.into(),
            datatype,
            shape: shape.to_vec(),
            data,
        }
    }

    #[test]
    fn data_types_round_trip() {
        for (t, name, size) in DataType::ALL {
            assert_eq!(DataType::parse(name), Some(t));
            assert_eq!(t.name(), name);
            assert_eq!(t.size(), size);
        }
        assert_eq!(DataType::parse("BYTES"), None);
        assert_eq!(
            byte_size(&[1, 3, 416, 416], DataType::Fp32),
            Some(2_076_672)
        );
        assert_eq!(byte_size(&[u64::MAX, 2], DataType::Fp32), None);
    }

    #[test]
    fn inputs_are_checked_against_the_metadata() {
        let m = nanodet();
        let input = |shape: &[u64], t| vec![tensor("input", t, shape, vec![])];
        assert_eq!(
            check_inputs(&m, &input(&[1, 3, 416, 416], DataType::Fp32)),
            Ok(())
        );
        let e = check_inputs(&m, &input(&[1, 3, 320, 320], DataType::Fp32)).unwrap_err();
        assert!(
            e.contains("[1, 3, 416, 416]") && e.contains("[1, 3, 320, 320]"),
            "{e}"
        );
        let e = check_inputs(&m, &input(&[1, 3, 416, 416], DataType::Uint8)).unwrap_err();
        assert!(e.contains("is FP32, not UINT8"), "{e}");
        let e = check_inputs(&m, &[tensor("image", DataType::Fp32, &[1], vec![])]).unwrap_err();
        assert!(e.contains("no input 'image' (its inputs: input)"), "{e}");
        let e = check_inputs(&m, &[]).unwrap_err();
        assert!(e.contains("takes input 'input' once"), "{e}");
    }

    #[test]
    fn the_infer_header_asks_for_binary_outputs() {
        let inputs = [tensor("in\"put", DataType::Fp32, &[1, 2], vec![0; 8])];
        let header: serde_json::Value = serde_json::from_slice(&infer_header(&inputs)).unwrap();
        assert_eq!(
            header,
            serde_json::json!({
                "inputs": [{"name": "in\"put", "shape": [1, 2], "datatype": "FP32",
                            "parameters": {"binary_data_size": 8}}],
                "parameters": {"binary_data_output": true}
            })
        );
    }

    fn answer(json: &str, binary: &[u8]) -> (Option<usize>, Vec<u8>) {
        let mut body = json.as_bytes().to_vec();
        body.extend_from_slice(binary);
        (Some(json.len()), body)
    }

    #[test]
    fn binary_answers_are_split_by_their_sizes() {
        let json = r#"{"model_name":"m","outputs":[{"name":"a","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},{"name":"b","datatype":"UINT8","shape":[3],"parameters":{"binary_data_size":3}}]}"#;
        let floats: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let (length, body) = answer(json, &[floats.as_slice(), &[7, 8, 9]].concat());
        let outputs = parse_answer(length, &body).unwrap();
        assert_eq!(
            outputs,
            vec![
                tensor("a", DataType::Fp32, &[1, 2], floats),
                tensor("b", DataType::Uint8, &[3], vec![7, 8, 9])
            ]
        );
        // Cut short, or with bytes left over, or with a size that is not
        // the shape's: each an error, never a tensor of the wrong length.
        let e = parse_answer(length, &body[..body.len() - 1]).unwrap_err();
        assert!(e.contains("ends before output 'b'"), "{e}");
        let e = parse_answer(length, &[body.as_slice(), &[0]].concat()).unwrap_err();
        assert!(e.contains("1 bytes after its outputs"), "{e}");
        let wrong = json.replace(r#""binary_data_size":8"#, r#""binary_data_size":4"#);
        let (length, body) = answer(&wrong, &[0; 7]);
        let e = parse_answer(length, &body).unwrap_err();
        assert!(
            e.contains("has 4 bytes, but its shape [1, 2] of FP32 takes 8"),
            "{e}"
        );
        let e = parse_answer(Some(10_000), &body).unwrap_err();
        assert!(e.contains("shorter than its JSON header"), "{e}");
        let e = parse_answer(None, b"<html>oops</html>").unwrap_err();
        assert!(e.contains("not v2's"), "{e}");
    }

    #[test]
    fn json_answers_are_read_too() {
        let body = br#"{"outputs":[{"name":"a","datatype":"FP32","shape":[2],"data":[0.5,3]},{"name":"n","datatype":"INT64","shape":[1],"data":[-4]}]}"#;
        let outputs = parse_answer(None, body).unwrap();
        assert_eq!(
            outputs[0].data,
            [0.5f32.to_le_bytes(), 3f32.to_le_bytes()].concat()
        );
        assert_eq!(outputs[1].data, (-4i64).to_le_bytes());
        let short = br#"{"outputs":[{"name":"a","datatype":"FP32","shape":[3],"data":[0.5]}]}"#;
        assert!(parse_answer(None, short).unwrap_err().contains("1 values"));
        let text = br#"{"outputs":[{"name":"a","datatype":"UINT8","shape":[1],"data":[300]}]}"#;
        assert!(parse_answer(None, text)
            .unwrap_err()
            .contains("not a UINT8"));
    }

    #[test]
    fn the_answer_is_bounded_by_the_outputs() {
        let mut m = nanodet();
        // scores has a dimension of any size: the cap.
        assert_eq!(m.max_answer(64 << 20), 64 << 20);
        m.outputs[0].shape = vec![1, 3549, 80];
        let binary = (3549 * 80 + 3549 * 44) * 4;
        assert_eq!(m.max_answer(64 << 20), binary * 12 + (1 << 20));
        assert_eq!(m.max_answer(1000), 1000);
    }

    #[test]
    fn outputs_are_checked_against_the_metadata() {
        let m = nanodet();
        let scores = |shape: &[u64]| vec![tensor("scores", DataType::Fp32, shape, vec![])];
        assert_eq!(check_outputs(&m, &scores(&[1, 100, 80])), Ok(()));
        let e = check_outputs(&m, &scores(&[1, 100, 81])).unwrap_err();
        assert!(
            e.contains("FP32 [1, 100, 81], but its metadata says FP32 [1, -1, 80]"),
            "{e}"
        );
    }

    #[test]
    fn error_answers_are_read_for_their_message() {
        assert_eq!(
            error_text(br#"{"error":"Model with name x does not exist."}"#),
            "Model with name x does not exist."
        );
        assert_eq!(
            error_text(b"  Internal Server Error\n"),
            "Internal Server Error"
        );
        assert_eq!(error_text(b""), "no message");
        assert_eq!(error_text("é".repeat(300).as_bytes()).chars().count(), 201);
    }
}
