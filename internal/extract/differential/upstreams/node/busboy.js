'use strict';
// Plain Node http server + busboy for multipart and urlencoded; JSON.parse
// for JSON bodies. Usage: node busboy.js PORT
const http = require('http');
const busboy = require('busboy');
const R = require('./report');

const MB = 1024 * 1024;

function parseForm(req, rep) {
  return new Promise((resolve) => {
    let bb;
    try {
      bb = busboy({ headers: req.headers, limits: { fieldSize: 25 * MB, fileSize: 50 * MB } });
    } catch (e) {
      rep.fail('busboy', e);
      resolve();
      return;
    }
    let settled = false;
    const done = (err) => {
      if (settled) return;
      settled = true;
      if (err) rep.fail('busboy', err);
      resolve();
    };
    const files = [];
    const fields = [];
    bb.on('file', (name, stream, info) => {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('limit', () => done(new Error(`file ${name} over the size limit`)));
      stream.on('end', () => files.push([name, Buffer.concat(chunks)]));
      stream.on('error', (e) => done(e));
    });
    bb.on('field', (name, value, info) => {
      if (info && info.valueTruncated) {
        done(new Error(`field ${name} truncated`));
        return;
      }
      fields.push([name, value]);
    });
    bb.on('error', (e) => done(e));
    bb.on('close', () => {
      if (settled) return;
      for (const [n, b] of files) rep.file(n, b);
      for (const [n, v] of fields) rep.string(n, 'form', v);
      done(null);
    });
    req.on('error', (e) => done(e));
    req.pipe(bb);
  });
}

async function handle(req, res, tap) {
  if (R.isReady(req)) return R.sendReady(res);
  const rep = new R.Report('busboy', req);
  try {
    R.reportQuery(rep, req.url);
    const ct = String(req.headers['content-type'] || '').toLowerCase();
    const mt = ct.split(';')[0].trim();
    if (mt === 'multipart/form-data' || mt === 'application/x-www-form-urlencoded') {
      await parseForm(req, rep);
    }
    const raw = await tap.done();
    rep.bodyBytes(raw);
    if (R.isJsonType(ct)) {
      try {
        rep.walk(JSON.parse(raw.toString('utf8')), 'json', 'json');
      } catch (e) {
        rep.fail('json', e);
      }
    }
  } catch (e) {
    rep.fail('handler', e);
  }
  return R.send(res, rep);
}

const server = http.createServer(R.SERVER_OPTS, (req, res) => {
  const tap = R.tapBody(req);
  handle(req, res, tap);
});
R.listen(server, Number(process.argv[2]));
