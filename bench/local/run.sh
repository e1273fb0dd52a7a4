#!/usr/bin/env bash
# Side-by-side benchmark of the offline liveness check: the Go check (vendors/local/antispoof,
# assembly kernels and -tags purego) against onnxruntime (onnxruntime-node, CPU) running the same
# three networks on the same input tensors, one thread each (GOMAXPROCS=1; intra- and inter-op
# threads 1), on the three sample faces. The three runners alternate for BENCH_ROUNDS rounds and
# the script prints markdown tables built from the fastest round of each figure.
#
# Environment:
#   BENCH_ROUNDS      rounds of the three runners (default 3)
#   BENCH_TIME        go test -benchtime of the assembly build (default 1s)
#   BENCH_TIME_PUREGO go test -benchtime of the purego build (default 1s)
#   ORT_ITERATIONS    timed onnxruntime iterations per image and round (default 200)
#   ORT_WARMUP        onnxruntime warm-up iterations per image and round (default 20)
#   BENCH_KEEP        a directory to copy the raw outputs and tensors to (default: none)
#
# Network: npm ci when bench/local/ort/node_modules lacks the pinned onnxruntime-node, and Go's
# module download when the module cache lacks the module's dependencies; nothing else.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

rounds=${BENCH_ROUNDS:-3}
benchtime=${BENCH_TIME:-1s}
benchtime_purego=${BENCH_TIME_PUREGO:-1s}
ort_iterations=${ORT_ITERATIONS:-200}
ort_warmup=${ORT_WARMUP:-20}

log() { printf '%s\n' "$*" >&2; }

# onnxruntime-node: its postinstall would download binaries; the CPU library ships in the package.
ort_dir=bench/local/ort
want=$(node -p "require('./$ort_dir/package.json').dependencies['onnxruntime-node']")
have=$(cd "$ort_dir" && node -p "try { require('onnxruntime-node/package.json').version } catch { '' }")
if [ "$have" != "$want" ]; then
	log "installing onnxruntime-node $want (npm ci)"
	(cd "$ort_dir" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "building the test binaries and writing the input tensors"
go test -c -o "$tmp/antispoof.test" ./vendors/local/antispoof
go test -c -tags purego -o "$tmp/antispoof-purego.test" ./vendors/local/antispoof
go run ./bench/local/tensors -out "$tmp/tensors" >&2

gobench() { # binary benchtime output
	(cd vendors/local/antispoof && GOMAXPROCS=1 "$1" -test.run '^$' -test.bench 'Benchmark(Check|Stages)' \
		-test.benchtime "$2" -test.cpu 1 -test.benchmem) >"$3"
}

for r in $(seq 1 "$rounds"); do
	log "round $r/$rounds: go (assembly kernels)"
	gobench "$tmp/antispoof.test" "$benchtime" "$tmp/go-asm-$r.txt"
	log "round $r/$rounds: go (purego)"
	gobench "$tmp/antispoof-purego.test" "$benchtime_purego" "$tmp/go-purego-$r.txt"
	log "round $r/$rounds: onnxruntime"
	node "$ort_dir/bench.mjs" --tensors "$tmp/tensors" --iterations "$ort_iterations" --warmup "$ort_warmup" \
		>"$tmp/ort-$r.json"
done

if [ -n "${BENCH_KEEP:-}" ]; then
	mkdir -p "$BENCH_KEEP"
	cp -r "$tmp"/go-*.txt "$tmp"/ort-*.json "$tmp/tensors" "$BENCH_KEEP/"
fi

node --input-type=module - "$tmp" "$rounds" <<'EOF'
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg);

// Go: name -> {metric -> [value per round]}, from the benchmark lines.
function readGo(kind) {
  const out = {};
  for (let r = 1; r <= rounds; r++) {
    for (const line of readFileSync(join(dir, `go-${kind}-${r}.txt`), 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (!f[0].startsWith('Benchmark') || f.length < 4) continue;
      const name = f[0].replace(/-\d+$/, '');
      const m = (out[name] ??= {});
      for (let i = 2; i + 1 < f.length; i += 2) (m[f[i + 1]] ??= []).push(Number(f[i]));
    }
  }
  return out;
}
const asm = readGo('asm');
const purego = readGo('purego');
const ort = [];
for (let r = 1; r <= rounds; r++) ort.push(JSON.parse(readFileSync(join(dir, `ort-${r}.json`), 'utf8')));

const min = (a) => (a && a.length ? Math.min(...a) : NaN);
const goMs = (g, name) => min(g[name]?.['ns/op']) / 1e6;
const goMetric = (g, name, unit) => min(g[name]?.[unit]);
const ortFig = (image, pick) => min(ort.map((o) => pick(o.images.find((i) => i.image === image))));
const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const x2 = (v) => (Number.isFinite(v) ? v.toFixed(2) + 'x' : 'n/a');
const mib = (v) => (Number.isFinite(v) ? (v / 1048576).toFixed(2) : 'n/a');

const images = ort[0].images.map((i) => i.image);
const nets = [
  ['detector', 'RetinaFace-minivision'],
  ['MiniFASNetV2', 'MiniFASNetV2'],
  ['MiniFASNetV1SE', 'MiniFASNetV1SE'],
];
const o = ort[0];
console.log(`## Offline check: Go against onnxruntime-node ${o.version}, one thread\n`);
console.log(`${rounds} alternating rounds. Go: ns/op (a mean over -benchtime) of the fastest round, GOMAXPROCS=1.`);
console.log(`onnxruntime: intra/inter-op threads 1, sequential, graph optimisation 'all'; ${o.iterations} iterations`);
console.log(`after ${o.warmup} warm-up runs per image and round; "min" is the fastest run of all rounds, "p50" the`);
console.log(`lowest per-round median. Ratios divide by onnxruntime's p50. "3 nets" is the three networks alone on`);
console.log(`the same tensors (Go: BenchmarkStages); the Go check adds decoding (+decode), the detector input,`);
console.log(`box decoding and the two crops.\n`);

console.log('| image | Go check ms | Go check +decode ms | Go 3 nets ms | purego check ms | purego 3 nets ms | ORT 3 nets min ms | ORT 3 nets p50 ms | Go check / ORT | Go 3 nets / ORT | purego check / ORT | purego 3 nets / ORT |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const img of images) {
  const b = img.replace(/\.[^.]+$/, '');
  const sumNets = (g) => nets.reduce((s, [n]) => s + goMs(g, `BenchmarkStages/${b}/${n}`), 0);
  const gd = goMs(asm, `BenchmarkCheck/${b}/decoded`);
  const gb = goMs(asm, `BenchmarkCheck/${b}/bytes`);
  const gn = sumNets(asm);
  const pd = goMs(purego, `BenchmarkCheck/${b}/decoded`);
  const pn = sumNets(purego);
  const omin = ortFig(img, (i) => i.total.min_ms);
  const op50 = ortFig(img, (i) => i.total.p50_ms);
  console.log(`| ${b} | ${f2(gd)} | ${f2(gb)} | ${f2(gn)} | ${f2(pd)} | ${f2(pn)} | ${f2(omin)} | ${f2(op50)} | ${x2(gd / op50)} | ${x2(gn / op50)} | ${x2(pd / op50)} | ${x2(pn / op50)} |`);
}

console.log('\n### Per network (ms)\n');
console.log('| image | network | Go | purego | ORT min | ORT p50 | Go / ORT | purego / ORT |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const img of images) {
  const b = img.replace(/\.[^.]+$/, '');
  for (const [n, on] of nets) {
    const g = goMs(asm, `BenchmarkStages/${b}/${n}`);
    const p = goMs(purego, `BenchmarkStages/${b}/${n}`);
    const omin = ortFig(img, (i) => i.networks[on].min_ms);
    const op50 = ortFig(img, (i) => i.networks[on].p50_ms);
    console.log(`| ${b} | ${n} | ${f2(g)} | ${f2(p)} | ${f2(omin)} | ${f2(op50)} | ${x2(g / op50)} | ${x2(p / op50)} |`);
  }
  console.log(`| ${b} | glue | ${f2(goMs(asm, `BenchmarkStages/${b}/glue`))} | ${f2(goMs(purego, `BenchmarkStages/${b}/glue`))} | | | | |`);
}

console.log('\n### Go memory per check (MiB, assembly kernels; purego in parentheses)\n');
console.log('peak-heap: heap growth of the first check of a fresh engine with the collector off (every byte it');
console.log('allocates, session buffers included: an upper bound of what one inference holds, weights excluded).');
console.log('B/op: -benchmem of the warm engine (sessions reused). buffers: float buffers of each network\'s session.\n');
console.log('| image | peak-heap | peak-heap +decode | B/op | B/op +decode | allocs/op | buffers detector | buffers V2 | buffers V1SE |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const img of images) {
  const b = img.replace(/\.[^.]+$/, '');
  const both = (name, unit) => `${mib(goMetric(asm, name, unit))} (${mib(goMetric(purego, name, unit))})`;
  const d = `BenchmarkCheck/${b}/decoded`;
  const y = `BenchmarkCheck/${b}/bytes`;
  const buf = (n) => both(`BenchmarkStages/${b}/${n}`, 'buffers-B');
  console.log(`| ${b} | ${both(d, 'peak-heap-B')} | ${both(y, 'peak-heap-B')} | ${both(d, 'B/op')} | ${both(y, 'B/op')} | ${goMetric(asm, d, 'allocs/op')} | ${buf('detector')} | ${buf('MiniFASNetV2')} | ${buf('MiniFASNetV1SE')} |`);
}

console.log('\n### Agreement of onnxruntime with the Go check on these tensors\n');
console.log('| image | detector conf Go | detector conf ORT | max abs logit diff |');
console.log('| --- | ---: | ---: | ---: |');
for (const i of o.images) {
  const a = i.agreement;
  console.log(`| ${i.image.replace(/\.[^.]+$/, '')} | ${a.detector_conf_go} | ${a.detector_conf_ort} | ${a.max_abs_logit_diff.toExponential(1)} |`);
}
EOF
