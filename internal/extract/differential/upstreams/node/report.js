'use strict';
// Shared reporting code for the Node differential upstreams (see ../README.md).
const crypto = require('crypto');

const READY = 'ready';

function hasMagic(b) {
  if (!b || b.length === 0) return false;
  const s = (i, str) => b.length >= i + str.length && b.latin1Slice(i, i + str.length) === str;
  return (
    (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) ||
    (b.length >= 4 && b[0] === 0x89 && s(1, 'PNG')) ||
    s(0, 'GIF8') ||
    (s(0, 'RIFF') && s(8, 'WEBP')) ||
    s(0, 'BM') ||
    s(0, 'II*\0') ||
    s(0, 'MM\0*') ||
    s(4, 'ftyp') ||
    (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3)
  );
}

function sha(b) {
  return crypto.createHash('sha256').update(b).digest('hex');
}

// Distinct buffers an app could get from string s that start with a magic:
// the string's own bytes (utf8 or latin1), or Buffer.from(s, 'base64') after
// stripping an optional data: prefix up to the first comma.
function imageDecodings(s) {
  const found = [];
  const push = (b) => {
    if (hasMagic(b) && !found.some((f) => f.equals(b))) found.push(b);
  };
  if (Buffer.isBuffer(s)) {
    push(s);
    s = s.latin1Slice(0, s.length);
  } else {
    push(Buffer.from(s, 'utf8'));
    push(Buffer.from(s, 'latin1'));
  }
  let t = s;
  if (t.slice(0, 5).toLowerCase() === 'data:' && t.includes(',')) t = t.slice(t.indexOf(',') + 1);
  push(Buffer.from(t, 'base64'));
  return found;
}

function isJsonType(ct) {
  const mt = String(ct || '').split(';')[0].trim().toLowerCase();
  return mt === 'application/json' || (mt.startsWith('application/') && mt.endsWith('+json'));
}

function isBracketName(k) {
  return /^[A-Za-z_$][\w$]*$/.test(k);
}

class Report {
  constructor(framework, req) {
    this.framework = framework;
    this.ok = true;
    this.errors = [];
    const h = (n) => {
      const v = req.headers[n];
      return Array.isArray(v) ? v.join(', ') : v || '';
    };
    this.verdict = h('x-liveness-verdict');
    this.judged = h('x-liveness-image-sha256');
    this.images = [];
    this.seen = new Set();
  }

  fail(where, err) {
    this.ok = false;
    const msg = err && err.message ? err.message : String(err);
    const code = err && err.code ? ` (${err.code})` : '';
    this.errors.push(`${where}: ${msg}${code}`.slice(0, 300));
  }

  add(field, via, data, path) {
    if (!data || data.length === 0) return;
    const h = sha(data);
    const key = `${field}\0${via}\0${h}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.images.push({ field, via, sha256: h, path: path === undefined ? field : path, magic: hasMagic(data) });
  }

  file(field, data, path) {
    this.add(field, 'file', data, path);
  }

  string(field, via, value, path) {
    if (typeof value !== 'string' && !Buffer.isBuffer(value)) return;
    for (const d of imageDecodings(value)) this.add(field, via, d, path);
  }

  bodyBytes(b) {
    if (b && hasMagic(b)) this.add('', 'body', b, '');
  }

  // Walks a parsed value (JSON document, qs object). mode 'json': field is
  // the innermost object key; mode 'form': field is the top-level key and the
  // path is written in bracket notation (user[photo], selfie[0]).
  walk(value, via, mode, topKey) {
    const stack = [[value, topKey === undefined ? '' : topKey, topKey === undefined ? (mode === 'json' ? '$' : '') : topKey, topKey]];
    while (stack.length) {
      const [v, key, path, top] = stack.pop();
      if (typeof v === 'string') {
        this.string(mode === 'json' ? key : top === undefined ? key : top, via, v, path);
      } else if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], key, `${path}[${i}]`, top]);
      } else if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
        const keys = Object.keys(v);
        for (let i = keys.length - 1; i >= 0; i--) {
          const k = keys[i];
          let p;
          if (mode === 'json') p = isBracketName(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`;
          else p = path === '' ? k : `${path}[${k}]`;
          stack.push([v[k], k, p, top === undefined ? k : top]);
        }
      }
    }
  }

  toJSON() {
    return {
      framework: this.framework,
      ok: this.ok,
      error: this.errors.join('; '),
      verdict: this.verdict,
      judged: this.judged,
      images: this.images,
    };
  }
}

// Records every body chunk the HTTP parser hands to req, whoever reads it.
// Must be called synchronously in the 'request' handler, before any read.
function tapBody(req) {
  const chunks = [];
  let size = 0;
  const orig = req.push;
  req.push = function push(chunk, enc) {
    if (chunk !== null && chunk !== undefined) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, enc);
      chunks.push(b);
      size += b.length;
    }
    return orig.call(this, chunk, enc);
  };
  return {
    // Drains whatever nobody read, then gives the whole raw body.
    done() {
      return new Promise((resolve) => {
        const finish = () => resolve(Buffer.concat(chunks, size));
        if (req.readableEnded || req.destroyed) return finish();
        const t = setTimeout(finish, 5000);
        const fin = () => { clearTimeout(t); finish(); };
        req.once('end', fin);
        req.once('close', fin);
        req.once('error', fin);
        req.resume();
      });
    },
  };
}

function isReady(req) {
  return (req.method === 'GET' || req.method === 'HEAD') && req.url === '/';
}

function send(res, rep) {
  if (res.headersSent) return;
  const body = JSON.stringify(rep);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendReady(res) {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': READY.length });
  res.end(READY);
}

// Query string, parsed the way a plain Node app does.
function reportQuery(rep, url) {
  const q = url.indexOf('?');
  if (q < 0) return;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const [k, v] of params) rep.string(k, 'query', v);
}

function listen(server, port) {
  server.maxHeadersCount = 0;
  server.requestTimeout = 120000;
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  server.listen(port, '127.0.0.1');
}

const SERVER_OPTS = { maxHeaderSize: 64 * 1024 * 1024 };

process.on('uncaughtException', (err) => {
  console.error('uncaught:', err && err.stack ? err.stack : err);
});
process.on('unhandledRejection', (err) => {
  console.error('unhandled rejection:', err && err.stack ? err.stack : err);
});

module.exports = {
  READY, Report, hasMagic, sha, imageDecodings, isJsonType, tapBody, isReady, send, sendReady,
  reportQuery, listen, SERVER_OPTS,
};
