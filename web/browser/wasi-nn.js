// wasi:nn@0.2.0-rc-2024-10-28 for a component transpiled by jco, on
// onnxruntime-web: the four interfaces (errors, tensor, graph, inference) as
// jco expects them, resources as classes, a failure thrown as
// `{ payload: <wasi:nn error> }`.
//
// Loading a graph and `compute` are asynchronous in onnxruntime-web. The
// component calls them as ordinary synchronous functions; the transpile
// marks `load`, `load-by-name` and `compute` as async imports
// (`--async-mode jspi`), so the component's stack is suspended while the
// promise settles (JavaScript Promise Integration).
//
// Stands on its own: nothing here knows about the detector.
//
//   const nn = createWasiNn({ ort, models: { nanodet: "/models/nanodet/model.onnx" } });
//   instantiate(getCoreModule, { ...wasi, ...nn.imports() });

/** The wasi:nn version these interfaces implement. */
export const WASI_NN_VERSION = "0.2.0-rc-2024-10-28";

const CODES = new Set([
  "invalid-argument",
  "invalid-encoding",
  "timeout",
  "runtime-error",
  "unsupported-operation",
  "too-large",
  "not-found",
  "security",
  "unknown",
]);

/** wasi:nn's tensor types and onnxruntime-web's, with their element arrays. */
const TYPES = {
  FP16: { ort: "float16", array: Uint16Array },
  FP32: { ort: "float32", array: Float32Array },
  FP64: { ort: "float64", array: Float64Array },
  U8: { ort: "uint8", array: Uint8Array },
  I32: { ort: "int32", array: Int32Array },
  I64: { ort: "int64", array: BigInt64Array },
};
const FROM_ORT = Object.fromEntries(Object.entries(TYPES).map(([ty, t]) => [t.ort, ty]));

/**
 * The wasi:nn interfaces on onnxruntime-web.
 *
 * - `ort`: the onnxruntime-web module (its `InferenceSession` and `Tensor`).
 * - `models`: what `load-by-name` finds: name -> a URL of an ONNX file, its
 *   bytes, or an async function giving either. Looked up on each
 *   `load-by-name`; a name not in it is `not-found`.
 * - `sessionOptions`: passed to `InferenceSession.create`.
 *
 * Each `createWasiNn` is independent: its own classes, graphs and sessions.
 */
export function createWasiNn({ ort, models = {}, sessionOptions = {}, fetch: fetchFn = fetch } = {}) {
  /** wasi:nn/errors.error: a code and a message. */
  class NnError {
    #code;
    #data;
    constructor(code, data) {
      this.#code = CODES.has(code) ? code : "unknown";
      this.#data = String(data);
    }
    code() {
      return this.#code;
    }
    data() {
      return this.#data;
    }
  }

  /** Throws a wasi:nn error the way jco lowers a `result`'s error. */
  const fail = (code, message) => {
    throw { payload: new NnError(code, message) };
  };
  const messageOf = (e) => (e && e.message) || String(e);

  /** wasi:nn/tensor.tensor: dimensions, a type and little-endian bytes. */
  class Tensor {
    #dimensions;
    #ty;
    #data;
    constructor(dimensions, ty, data) {
      this.#dimensions = Uint32Array.from(dimensions);
      this.#ty = ty;
      this.#data = data instanceof Uint8Array ? data : new Uint8Array(data);
    }
    dimensions() {
      return this.#dimensions;
    }
    ty() {
      return this.#ty;
    }
    data() {
      return this.#data;
    }

    /** This tensor as onnxruntime-web's, sharing the bytes when aligned. */
    toOrt() {
      const type = TYPES[this.#ty];
      if (!type) fail("unsupported-operation", `tensor type ${this.#ty} is not supported by onnxruntime-web here`);
      const count = this.#dimensions.reduce((n, d) => n * d, 1);
      const bytes = this.#data;
      if (bytes.byteLength !== count * type.array.BYTES_PER_ELEMENT) {
        fail(
          "invalid-argument",
          `tensor data is ${bytes.byteLength} bytes; dimensions [${[...this.#dimensions]}] of ${this.#ty} need ${count * type.array.BYTES_PER_ELEMENT}`,
        );
      }
      // Typed arrays need their offset aligned to the element size.
      const aligned = bytes.byteOffset % type.array.BYTES_PER_ELEMENT === 0 ? bytes : bytes.slice();
      const values = new type.array(aligned.buffer, aligned.byteOffset, count);
      return new ort.Tensor(type.ort, values, [...this.#dimensions]);
    }

    /** onnxruntime-web's tensor as wasi:nn's. */
    static fromOrt(tensor) {
      const ty = FROM_ORT[tensor.type];
      if (!ty) fail("unsupported-operation", `output of type ${tensor.type} has no wasi:nn tensor type`);
      const values = tensor.data;
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      return new Tensor(tensor.dims, ty, bytes);
    }
  }

  /** wasi:nn/inference.graph-execution-context: runs its graph's session. */
  class GraphExecutionContext {
    #session;
    constructor(session) {
      this.#session = session;
    }
    async compute(inputs) {
      const feeds = {};
      for (const [name, tensor] of inputs) {
        if (!(tensor instanceof Tensor)) fail("invalid-argument", `input '${name}' is not a tensor`);
        if (!this.#session.inputNames.includes(name)) {
          fail("invalid-argument", `the graph has no input '${name}'; its inputs are ${this.#session.inputNames.join(", ")}`);
        }
        feeds[name] = tensor.toOrt();
      }
      // A missing input is the caller's mistake, like an unknown one, not
      // the engine's: onnxruntime-web would fail the run with it.
      const missing = this.#session.inputNames.filter((name) => !Object.hasOwn(feeds, name));
      if (missing.length > 0) {
        fail("invalid-argument", `no tensor given for the graph's input ${missing.map((n) => `'${n}'`).join(", ")}`);
      }
      let results;
      try {
        results = await this.#session.run(feeds);
      } catch (e) {
        fail("runtime-error", messageOf(e));
      }
      return this.#session.outputNames.map((name) => [name, Tensor.fromOrt(results[name])]);
    }
  }

  /** wasi:nn/graph.graph: one onnxruntime-web session. */
  class Graph {
    #session;
    constructor(session) {
      this.#session = session;
    }
    initExecutionContext() {
      return new GraphExecutionContext(this.#session);
    }
  }

  async function createSession(bytes, what) {
    try {
      return await ort.InferenceSession.create(bytes, sessionOptions);
    } catch (e) {
      fail("invalid-encoding", `${what} is not an ONNX model onnxruntime-web can load: ${messageOf(e)}`);
    }
  }

  /** The bytes of a `models` entry: a URL, bytes, or a function giving either. */
  async function modelBytes(name, entry) {
    // Every failure here is a wasi:nn error: jco turns a thrown `Error`
    // without a payload into a trap of the whole component, not an error
    // the component can answer with.
    let source;
    try {
      source = typeof entry === "function" ? await entry(name) : entry;
    } catch (e) {
      fail("not-found", `model '${name}' could not be obtained: ${messageOf(e)}`);
    }
    if (source instanceof Uint8Array) return source;
    if (source instanceof ArrayBuffer) return new Uint8Array(source);
    const fetchFailed = (why) => fail("not-found", `model '${name}' could not be fetched from ${source}: ${why}`);
    let response;
    try {
      response = await fetchFn(source);
    } catch (e) {
      fetchFailed(messageOf(e));
    }
    if (!response.ok) fetchFailed(`HTTP ${response.status}`);
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (e) {
      fetchFailed(messageOf(e));
    }
  }

  const graph = {
    Graph,
    async load(builders, encoding, target) {
      if (encoding !== "onnx" && encoding !== "autodetect") {
        fail("invalid-encoding", `encoding ${encoding} is not supported: onnxruntime-web loads ONNX`);
      }
      if (target !== "cpu") fail("unsupported-operation", `execution target ${target}: only cpu is supported`);
      if (builders.length !== 1) fail("invalid-argument", `an ONNX graph is one part, not ${builders.length}`);
      return new Graph(await createSession(builders[0], "the graph"));
    },
    async loadByName(name) {
      if (!Object.hasOwn(models, name)) fail("not-found", `no model named '${name}'`);
      const bytes = await modelBytes(name, models[name]);
      return new Graph(await createSession(bytes, `model '${name}'`));
    },
  };

  const interfaces = {
    errors: { Error: NnError },
    tensor: { Tensor },
    graph,
    inference: { GraphExecutionContext },
  };
  return {
    ...interfaces,
    /** jco's import object entries, keyed by versioned interface name. */
    imports() {
      return Object.fromEntries(
        Object.entries(interfaces).map(([name, iface]) => [`wasi:nn/${name}@${WASI_NN_VERSION}`, iface]),
      );
    },
  };
}
