'use strict';
// Express 4 + multer upload.any() + express.json + express.urlencoded(extended).
// Usage: node multer.js PORT
const http = require('http');
const express = require('express');
const multer = require('multer');
const R = require('./report');

const MB = 1024 * 1024;
const app = express();
const upload = multer({
  storage: multer.memoryStorage(),
  limits: { fieldSize: 25 * MB, fileSize: 50 * MB },
});

app.use((req, res, next) => {
  if (R.isReady(req)) return R.sendReady(res);
  return next();
});
app.use(express.json({ limit: '20mb' }));
app.use(express.urlencoded({ extended: true, limit: '20mb' }));
app.use(upload.any());

async function report(req, res, err) {
  const rep = new R.Report('multer', req);
  try {
    if (err) rep.fail('express', err);
    try {
      rep.walk(req.query, 'query', 'form');
    } catch (e) {
      rep.fail('query', e);
    }
    for (const f of req.files || []) rep.file(f.fieldname, f.buffer);
    if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
      // express.json fills req.body with the JSON document; urlencoded and
      // multer fill it with (qs / append-field nested) form values.
      if (R.isJsonType(req.headers['content-type']) || (req._body && /json/i.test(req.headers['content-type'] || ''))) {
        rep.walk(req.body, 'json', 'json');
      } else {
        rep.walk(req.body, 'form', 'form');
      }
    }
    const raw = await req._tap.done();
    rep.bodyBytes(raw);
  } catch (e) {
    rep.fail('handler', e);
  }
  R.send(res, rep);
}

app.all('*', (req, res) => {
  report(req, res, null);
});
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  report(req, res, err);
});

const server = http.createServer(R.SERVER_OPTS, (req, res) => {
  req._tap = R.tapBody(req);
  app(req, res);
});
R.listen(server, Number(process.argv[2]));
