// Runs a TF.js graph model with TensorFlow.js's pure-JS CPU backend: the
// reference outputs that models/verify_*.py compare a conversion with.
//
//   node run_graph.js [--shape N,H,W,C] NODE_MODULES MODEL_JSON WEIGHTS OUT_DIR OUTPUTS INPUT...
//
// The model is loaded from its files (tf.io.fromMemory), not fetched;
// WEIGHTS is a comma-separated list of its weight files, in model.json's
// order. OUTPUTS is a comma-separated list of graph tensor names. Each INPUT
// is a raw little-endian file of the model's input dtype (float32 or int32)
// and shape (--shape where the model's has unknown sizes); for input
// `<dir>/<name>.<ext>` each output `<tensor>` is written to
// `OUT_DIR/<name>.<tensor with '/' as '_'>.f32`, raw float32 in TF's layout.
"use strict";
const fs = require("fs");
const path = require("path");

async function main(argv) {
  let shape = null;
  if (argv[0] === "--shape") {
    shape = argv[1].split(",").map(Number);
    argv = argv.slice(2);
  }
  if (argv.length < 6) throw new Error("usage: run_graph.js [--shape N,H,W,C] NODE_MODULES MODEL_JSON WEIGHTS OUT_DIR OUTPUTS INPUT...");
  const [nodeModules, modelJson, weightFiles, outDir, outputList, ...inputs] = argv;
  // Quiet: the CPU backend's advice to install tfjs-node goes to stdout.
  const log = console.log;
  console.log = (...a) => console.error(...a);
  const tf = require(require.resolve("@tensorflow/tfjs", { paths: [nodeModules] }));
  await tf.setBackend("cpu");
  await tf.ready();

  const meta = JSON.parse(fs.readFileSync(modelJson, "utf8"));
  // Older converters wrote no format; a graph model has a GraphDef's nodes.
  if ((meta.format || "graph-model") !== "graph-model" || !meta.modelTopology.node || meta.weightsManifest.length !== 1)
    throw new Error(`${modelJson}: not a TF.js graph model with one weight group`);
  const bin = Buffer.concat(weightFiles.split(",").map((f) => fs.readFileSync(f)));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: meta.modelTopology,
    weightSpecs: meta.weightsManifest[0].weights,
    weightData,
    format: meta.format || "graph-model",
    generatedBy: meta.generatedBy,
    convertedBy: meta.convertedBy,
    signature: meta.signature,
  }));
  const input = model.inputs[0];
  const outputs = outputList.split(",");
  for (const file of inputs) {
    const raw = fs.readFileSync(file);
    const bytes = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const dtype = input.dtype === "int32" ? "int32" : "float32";
    const data = dtype === "int32" ? new Int32Array(bytes) : new Float32Array(bytes);
    const x = tf.tensor(data, shape || input.shape, dtype);
    const started = Date.now();
    // executeAsync: a graph with control flow (the TF Object Detection API's
    // preprocessing loop) cannot run synchronously.
    const ys = await model.executeAsync({ [input.name]: x }, outputs);
    const name = path.basename(file, path.extname(file));
    for (const [i, y] of (Array.isArray(ys) ? ys : [ys]).entries()) {
      const values = await y.data();
      const out = path.join(outDir, `${name}.${outputs[i].replace(/\//g, "_")}.f32`);
      fs.writeFileSync(out, Buffer.from(new Float32Array(values).buffer));
      y.dispose();
    }
    x.dispose();
    console.error(`tfjs: ${name} in ${Date.now() - started} ms`);
  }
  console.log = log;
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`run_graph.js: ${e.stack || e}`);
  process.exit(1);
});
