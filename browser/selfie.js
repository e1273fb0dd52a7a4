// selfie.js SPEC: drives headless Chromium (playwright-core from
// node_modules here) through the selfie page and prints one JSON line per
// case. SPEC is a JSON file written by browser_test.go:
//
//   {"chromium": "/usr/bin/chromium", "url": "http://localhost:P/",
//    "sessions": [{"userDataDir": "<empty dir>", "video": "<y4m or empty>",
//      "cases": [{"name": "...", "source": "camera" | "file", "shape": "multipart" | "json",
//                 "file": "<image for the file input>", "screenshot": "<png path>"}]}]}
//
// Each session is one browser; with "video" its fake camera plays that Y4M
// file. Each case loads the page afresh, picks the upload shape, gets the
// picture (camera: open it, wait for a frame, take the selfie; file: set the
// file input), sends it, waits for #result[data-state="done"] and saves a
// screenshot (camera cases also one of the open camera, <screenshot>-camera.png). Output: {"name", "state", "status", "verdict", "text", "ms"}
// or {"name", "error"}.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core'));

const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function runCase(ctx, url, c) {
  const started = Date.now();
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  const logs = [];
  page.on('console', (m) => logs.push(m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => logs.push('pageerror: ' + e.message));
  try {
    await page.goto(url);
    await page.check(`input[name="shape"][value="${c.shape}"]`);
    if (c.source === 'camera') {
      await page.click('#camera-start');
      await page.waitForSelector('#capture:not([disabled])');
      // The open camera: its own screenshot, beside the case's.
      await page.screenshot({ path: c.screenshot.replace(/\.png$/, '-camera.png') });
      await page.click('#capture');
    } else {
      await page.setInputFiles('#file', c.file);
    }
    await page.waitForSelector('#result[data-state="ready"]');
    await page.click('#send');
    const r = await page.waitForSelector('#result[data-state="done"]');
    const out = await r.evaluate((e) => ({
      state: e.dataset.state,
      status: Number(e.dataset.status),
      verdict: e.dataset.verdict,
      text: e.querySelector('#result-body').innerText,
    }));
    // The preview image decoded, so the screenshot shows the picture.
    await page.waitForFunction(() => document.getElementById('preview').complete);
    await page.screenshot({ path: c.screenshot, fullPage: true });
    return { name: c.name, ...out, ms: Date.now() - started };
  } catch (e) {
    try { await page.screenshot({ path: c.screenshot, fullPage: true }); } catch (e2) { /* none */ }
    return { name: c.name, error: String(e && e.message || e), logs };
  } finally {
    await page.close();
  }
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  for (const s of spec.sessions) {
    const args = [...BASE_ARGS];
    if (s.video) {
      args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
        '--use-file-for-fake-video-capture=' + s.video);
    }
    const ctx = await chromium.launchPersistentContext(s.userDataDir, {
      executablePath: spec.chromium,
      headless: true,
      timeout: 30000,
      args,
      viewport: { width: 412, height: 860 }, // a phone's width
    });
    try {
      for (const c of s.cases) console.log(JSON.stringify(await runCase(ctx, spec.url, c)));
    } finally {
      await ctx.close();
    }
  }
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
