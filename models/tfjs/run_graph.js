// Runs a TF.js graph model with TensorFlow.js's pure-JS CPU backend: the
// reference outputs that models/verify_centernet.py compares a conversion with.
//
//   node run_graph.js NODE_MODULES MODEL_JSON WEIGHTS_BIN OUT_DIR OUTPUTS INPUT...
//
// The model is loaded from the two files (tf.io.fromMemory), not fetched.
// OUTPUTS is a comma-separated list of graph tensor names. Each INPUT is a
// raw little-endian float32 file of the model's input shape; for input
// `<dir>/<name>.f32` each output `<tensor>` is written to
// `OUT_DIR/<name>.<tensor with '/' as '_'>.f32`, raw float32 in TF's layout.
"use strict";
const fs = require("fs");
const path = require("path");

async function main(argv) {
  if (argv.length < 6) throw new Error("usage: run_graph.js NODE_MODULES MODEL_JSON WEIGHTS_BIN OUT_DIR OUTPUTS INPUT...");
  const [nodeModules, modelJson, weightsBin, outDir, outputList, ...inputs] = argv;
  // Quiet: the CPU backend's advice to install tfjs-node goes to stdout.
  const log = console.log;
  console.log = (...a) => console.error(...a);
  const tf = require(require.resolve("@tensorflow/tfjs", { paths: [nodeModules] }));
  await tf.setBackend("cpu");
  await tf.ready();

  const meta = JSON.parse(fs.readFileSync(modelJson, "utf8"));
  if (meta.format !== "graph-model" || meta.weightsManifest.length !== 1)
    throw new Error(`${modelJson}: not a one-shard TF.js graph model`);
  const bin = fs.readFileSync(weightsBin);
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: meta.modelTopology,
    weightSpecs: meta.weightsManifest[0].weights,
    weightData,
    format: meta.format,
    generatedBy: meta.generatedBy,
    convertedBy: meta.convertedBy,
    signature: meta.signature,
  }));
  const input = model.inputs[0];
  const outputs = outputList.split(",");
  for (const file of inputs) {
    const raw = fs.readFileSync(file);
    const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const x = tf.tensor(data, input.shape, "float32");
    const started = Date.now();
    const ys = model.execute({ [input.name]: x }, outputs);
    const name = path.basename(file, ".f32");
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
