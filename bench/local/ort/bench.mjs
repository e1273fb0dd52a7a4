// Times onnxruntime (CPU, one thread) on the three networks of the offline liveness check, on the
// input tensors the Go pipeline builds (written by `go run ./bench/local/tensors -out DIR`).
//
//   node bench.mjs --tensors DIR [--models DIR] [--iterations 200] [--warmup 20]
//
// For each sample face it runs the detector, MiniFASNetV2 and MiniFASNetV1SE one after the other,
// warm-up runs first, then the timed iterations, and prints JSON: the min and median (p50)
// milliseconds of each network and of the three together, per image. Before timing it checks the
// models' SHA-256 against the manifest and compares onnxruntime's outputs with the Go check's (the
// detector's best face confidence, each model's logits).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    tensors: { type: 'string' },
    models: { type: 'string', default: join(here, '..', '..', '..', 'vendors', 'local', 'weights') },
    iterations: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
  },
});
if (!args.tensors) {
  console.error('usage: node bench.mjs --tensors DIR [--models DIR] [--iterations N] [--warmup N]');
  process.exit(2);
}
const iterations = Number.parseInt(args.iterations, 10);
const warmup = Number.parseInt(args.warmup, 10);
if (!(iterations > 0) || !(warmup >= 0)) {
  console.error('--iterations must be positive and --warmup not negative');
  process.exit(2);
}

const manifest = JSON.parse(readFileSync(join(args.tensors, 'manifest.json'), 'utf8'));

const options = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

const sessions = {};
for (const [name, digest] of Object.entries(manifest.models)) {
  const bytes = readFileSync(join(args.models, name));
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== digest) {
    throw new Error(`${name}: SHA-256 ${got}, the Go weights have ${digest}`);
  }
  sessions[name] = await ort.InferenceSession.create(bytes, options);
}

function readTensor(t) {
  const buf = readFileSync(join(args.tensors, t.file));
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (buf.length !== 4 * n) {
    throw new Error(`${t.file}: ${buf.length} bytes for shape ${t.shape}`);
  }
  const data = new Float32Array(n);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  for (let i = 0; i < n; i++) data[i] = view.getFloat32(4 * i, true);
  return new ort.Tensor('float32', data, t.shape);
}

// The highest face-class probability over the detector's confidence heads (4 channels: two
// priors per cell, background and face for each), as package detect computes it.
function bestFaceConf(outputs) {
  let best = -1;
  for (const t of Object.values(outputs)) {
    if (t.dims.length !== 4 || t.dims[1] !== 4) continue;
    const n = t.dims[2] * t.dims[3];
    for (let a = 0; a < 2; a++) {
      for (let i = 0; i < n; i++) {
        const bg = t.data[2 * a * n + i];
        const face = t.data[(2 * a + 1) * n + i];
        const m = Math.max(bg, face);
        const p = Math.exp(face - m) / (Math.exp(bg - m) + Math.exp(face - m));
        if (p > best) best = p;
      }
    }
  }
  return best;
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const p50 = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const r = (v) => Math.round(v * 1000) / 1000;
  return { min_ms: r(s[0]), p50_ms: r(p50) };
}

const ms = (a, b) => Number(b - a) / 1e6;

const images = [];
for (const s of manifest.samples) {
  const steps = [s.detector, ...s.models].map((t) => ({
    model: t.model,
    session: sessions[t.model],
    feeds: { [sessions[t.model].inputNames[0]]: readTensor(t) },
  }));

  // Agreement with the Go check on these inputs.
  const outs = [];
  for (const st of steps) outs.push(await st.session.run(st.feeds));
  const detConf = bestFaceConf(outs[0]);
  let maxLogitDiff = 0;
  for (let k = 0; k < 2; k++) {
    const o = Object.values(outs[k + 1])[0].data;
    for (let j = 0; j < 3; j++) maxLogitDiff = Math.max(maxLogitDiff, Math.abs(o[j] - s.logits[k][j]));
  }

  for (let i = 0; i < warmup; i++) {
    for (const st of steps) await st.session.run(st.feeds);
  }
  const times = steps.map(() => []);
  const total = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    let prev = t0;
    for (let k = 0; k < steps.length; k++) {
      await steps[k].session.run(steps[k].feeds);
      const now = process.hrtime.bigint();
      times[k].push(ms(prev, now));
      prev = now;
    }
    total.push(ms(t0, prev));
  }
  const networks = {};
  steps.forEach((st, k) => {
    networks[st.model.replace(/\.onnx$/, '')] = stats(times[k]);
  });
  images.push({
    image: s.image,
    detector_input: s.detector.shape,
    networks,
    total: stats(total),
    agreement: {
      detector_conf_go: s.detector_conf,
      detector_conf_ort: Math.round(detConf * 1e7) / 1e7,
      max_abs_logit_diff: maxLogitDiff,
    },
  });
}

console.log(JSON.stringify({
  runtime: 'onnxruntime-node',
  version: ort.env.versions?.node ?? null,
  options,
  iterations,
  warmup,
  images,
}, null, 2));
