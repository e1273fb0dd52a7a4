'use strict';
// Plain Node http server + formidable v3 (plugins: multipart, querystring,
// json, octetstream). Usage: node formidable.js PORT
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { formidable } = require('formidable');
const R = require('./report');

const MB = 1024 * 1024;
const uploadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'formidable-upstream-'));

async function handle(req, res, tap) {
  if (R.isReady(req)) return R.sendReady(res);
  const rep = new R.Report('formidable', req);
  const tmp = [];
  try {
    R.reportQuery(rep, req.url);
    const ct = String(req.headers['content-type'] || '');
    const form = formidable({
      uploadDir,
      allowEmptyFiles: true,
      minFileSize: 0,
      maxFiles: Infinity,
      maxFileSize: 50 * MB,
      maxTotalFileSize: 200 * MB,
      maxFields: 100000,
      maxFieldsSize: 50 * MB,
      keepExtensions: false,
    });
    try {
      const [fields, files] = await form.parse(req);
      for (const [name, list] of Object.entries(files || {})) {
        for (const f of [].concat(list)) {
          if (!f || !f.filepath) continue;
          tmp.push(f.filepath);
          rep.file(name, fs.readFileSync(f.filepath));
        }
      }
      // JSON bodies (any Content-Type matching /json/i) arrive as the parsed
      // document; multipart/urlencoded as { name: [values] }.
      if (/json/i.test(ct)) {
        rep.walk(fields, 'json', 'json');
      } else {
        for (const [name, list] of Object.entries(fields || {})) {
          for (const v of [].concat(list)) rep.string(name, 'form', v, name);
        }
      }
    } catch (e) {
      rep.fail('formidable', e);
    }
    const raw = await tap.done();
    rep.bodyBytes(raw);
  } catch (e) {
    rep.fail('handler', e);
  } finally {
    for (const p of tmp) fs.rm(p, { force: true }, () => {});
  }
  return R.send(res, rep);
}

process.on('exit', () => {
  try {
    fs.rmSync(uploadDir, { recursive: true, force: true });
  } catch (e) { /* ignore */ }
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

const server = http.createServer(R.SERVER_OPTS, (req, res) => {
  const tap = R.tapBody(req);
  handle(req, res, tap);
});
R.listen(server, Number(process.argv[2]));
