// fetch_client.mjs URL SHAPE IMAGE: uploads the JPEG at IMAGE to URL with
// Node's built-in fetch (undici) and prints {"status", "body", "client"} as
// one JSON line. SHAPE: multipart (FormData with a Blob), json (a data URI)
// or urlencoded (URLSearchParams, raw base64). Used by clients_test.go.
import { readFileSync } from 'node:fs';

const [url, shape, path] = process.argv.slice(2);
const img = readFileSync(path);
const b64 = img.toString('base64');
let init;
switch (shape) {
  case 'multipart': {
    const fd = new FormData();
    fd.append('selfie', new Blob([img], { type: 'image/jpeg' }), 'selfie.jpg');
    fd.append('user', 'alice');
    init = { method: 'POST', body: fd };
    break;
  }
  case 'json':
    init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ selfie: 'data:image/jpeg;base64,' + b64, user: 'alice' }),
    };
    break;
  case 'urlencoded':
    init = { method: 'POST', body: new URLSearchParams({ selfie: b64, user: 'alice' }) };
    break;
  default:
    console.error('fetch_client.mjs: unknown shape ' + shape);
    process.exit(2);
}
const r = await fetch(url, { ...init, signal: AbortSignal.timeout(30000) });
console.log(JSON.stringify({ status: r.status, body: await r.text(), client: 'node/' + process.versions.node }));
