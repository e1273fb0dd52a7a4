// chromium.js JOBS: drives Debian's headless Chromium (/usr/bin/chromium)
// with playwright-core (upstreams/node/node_modules) and uploads from a
// page of Caddy's own origin. JOBS is a JSON file:
//   {"page": "http://127.0.0.1:P/clients/page", "userDataDir": "...",
//    "jobs": [{"url": "/auto/gonet/upload", "shape": "multipart", "image": "/path.jpg"}, ...]}
// Shapes: multipart (fetch with FormData and a File built from the bytes),
// json (a data URI from FileReader.readAsDataURL), urlencoded
// (URLSearchParams, raw base64), form-input (a real <input type=file> set
// by Playwright, new FormData(form), fetch) and form-submit (the same form
// submitted: a navigation). Prints one JSON line per job:
// {"url", "shape", "status", "body"} and first {"client": userAgent}.
// Used by clients_test.go.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'upstreams', 'node', 'node_modules', 'playwright-core'));

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const ctx = await chromium.launchPersistentContext(spec.userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: 20000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(spec.page);
    console.log(JSON.stringify({ client: await page.evaluate(() => navigator.userAgent) }));
    for (const job of spec.jobs) {
      let res;
      if (job.shape === 'form-submit') {
        await page.goto(spec.page);
        await page.setInputFiles('#selfie', job.image);
        const [resp] = await Promise.all([
          page.waitForNavigation(),
          page.evaluate((url) => { const f = document.getElementById('f'); f.action = url; f.submit(); }, job.url),
        ]);
        res = { status: resp.status(), body: await resp.text() };
        await page.goto(spec.page);
      } else if (job.shape === 'form-input') {
        await page.setInputFiles('#selfie', job.image);
        res = await page.evaluate(async (url) => {
          const r = await fetch(url, { method: 'POST', body: new FormData(document.getElementById('f')) });
          return { status: r.status, body: await r.text() };
        }, job.url);
      } else {
        const b64 = fs.readFileSync(job.image).toString('base64');
        res = await page.evaluate(async ({ url, shape, b64 }) => {
          const bin = atob(b64);
          const bytes = new Uint8Array(bin.length);
          for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
          const file = new File([bytes], 'selfie.jpg', { type: 'image/jpeg' });
          let init;
          if (shape === 'multipart') {
            const fd = new FormData();
            fd.append('selfie', file);
            fd.append('user', 'alice');
            init = { method: 'POST', body: fd };
          } else {
            const uri = await new Promise((resolve, reject) => {
              const fr = new FileReader();
              fr.onload = () => resolve(fr.result);
              fr.onerror = () => reject(fr.error);
              fr.readAsDataURL(file);
            });
            if (shape === 'json') {
              init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ selfie: uri, user: 'alice' }) };
            } else if (shape === 'urlencoded') {
              init = { method: 'POST', body: new URLSearchParams({ selfie: uri.slice(uri.indexOf(',') + 1), user: 'alice' }) };
            } else {
              throw new Error('unknown shape ' + shape);
            }
          }
          const r = await fetch(url, init);
          return { status: r.status, body: await r.text() };
        }, { url: job.url, shape: job.shape, b64 });
      }
      console.log(JSON.stringify({ url: job.url, shape: job.shape, status: res.status, body: res.body }));
    }
  } finally {
    await ctx.close();
  }
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
