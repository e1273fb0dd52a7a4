// The selfie page: a picture from the camera (getUserMedia, drawn to a
// canvas, a JPEG) or from a file input is sent to POST /upload either as
// multipart/form-data (field "selfie") or as JSON with a data URI, and the
// answer is shown in plain words. Standard browser APIs only; no framework.
//
// The result element (#result) tells a test what happened:
//   data-state    idle | ready | sending | done
//   data-status   the HTTP status (0 when the request failed)
//   data-verdict  live, spoof, no_face, ... as the upstream received it for
//                 a 200; for a denial 403 -> spoof, 422 -> no_face, else error
'use strict';

const UPLOAD_URL = '/upload';
const FIELD = 'selfie';

const $ = (id) => document.getElementById(id);
const video = $('video');
const canvas = $('canvas');
const result = $('result');

let stream = null;   // the camera, while it is open
let picture = null;  // { blob, name } to send

// --- the picture ---------------------------------------------------------

async function openCamera() {
  $('camera-note').hidden = true;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    note('This browser offers no camera to this page: the camera needs HTTPS ' +
      '(or http://localhost). Take or pick a photo instead.');
    return;
  }
  closeCamera();
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'user' }, // the front camera on a phone
      audio: false,
    });
  } catch (e) {
    const why = {
      NotAllowedError: 'the permission was refused',
      NotFoundError: 'there is no camera',
      NotReadableError: 'another app is using it',
    }[e.name] || e.name;
    note('The camera could not be opened (' + why + '). Take or pick a photo instead.');
    return;
  }
  $('capture').disabled = true;
  $('camera').hidden = false;
  video.srcObject = stream;
}

function closeCamera() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  video.srcObject = null;
  $('camera').hidden = true;
}

// The capture button works once the video shows a frame.
video.addEventListener('playing', () => { $('capture').disabled = false; });

function takeSelfie() {
  const w = video.videoWidth;
  const h = video.videoHeight;
  if (!w || !h) return;
  canvas.width = w;
  canvas.height = h;
  // The frame as the camera sees it (the preview above is mirrored by CSS).
  canvas.getContext('2d').drawImage(video, 0, 0, w, h);
  canvas.toBlob((blob) => {
    if (!blob) return;
    closeCamera();
    setPicture(blob, 'selfie.jpg');
  }, 'image/jpeg', 0.92);
}

function pickFile() {
  const file = $('file').files[0];
  if (!file) return;
  closeCamera();
  setPicture(file, file.name);
  $('file').value = ''; // so that picking the same file again is a change
}

function setPicture(blob, name) {
  picture = { blob, name };
  $('camera-note').hidden = true;
  const img = $('preview');
  if (img.src) URL.revokeObjectURL(img.src);
  img.onload = () => {
    $('picture-info').textContent = name + ', ' + (blob.type || 'unknown type') + ', ' +
      img.naturalWidth + '×' + img.naturalHeight + ', ' + kb(blob.size);
  };
  img.onerror = () => {
    $('picture-info').textContent = name + ', ' + kb(blob.size) +
      ' (this browser cannot show it; it can still be sent)';
  };
  img.src = URL.createObjectURL(blob);
  $('picture').hidden = false;
  $('send').disabled = false;
  show('ready', {}, [p('Ready: press “Check this picture”.')]);
}

function note(text) {
  $('camera-note').textContent = text;
  $('camera-note').hidden = false;
}

// --- sending -------------------------------------------------------------

function readAsDataURL(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

async function send() {
  if (!picture) return;
  const shape = document.querySelector('input[name="shape"]:checked').value;
  $('send').disabled = true;
  show('sending', {}, [p('Sending…')]);
  try {
    let init;
    if (shape === 'json') {
      // {"selfie": "data:image/jpeg;base64,..."}: the gate judges any JSON
      // string that is a data:image/... URI.
      const uri = await readAsDataURL(picture.blob);
      init = {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ [FIELD]: uri }),
      };
    } else {
      // The browser writes the multipart body and its boundary itself.
      const form = new FormData();
      form.append(FIELD, picture.blob, picture.name);
      init = { method: 'POST', body: form };
    }
    const sent = shape === 'json' ? 'JSON with a data URI' : 'multipart/form-data';
    let res;
    let text;
    try {
      res = await fetch(UPLOAD_URL, init);
      text = await res.text();
    } catch (e) {
      show('done', { status: 0, verdict: 'error' }, [
        h3('The upload did not reach the server'),
        p('The browser could not send it (' + e.message + '). Is the server running?'),
      ]);
      return;
    }
    let body = null;
    try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
    if (res.ok) forwarded(res.status, body, sent, text);
    else denied(res.status, body, sent, text);
  } finally {
    $('send').disabled = false;
  }
}

// --- the answer ----------------------------------------------------------

// A header as the demo upstream (the emulator's echo) reports it:
// {"headers": {"X-Liveness-Verdict": ["live"], ...}, ...}.
function echoed(body, name) {
  const headers = (body && body.headers) || {};
  for (const k of Object.keys(headers)) {
    if (k.toLowerCase() === name.toLowerCase()) return [].concat(headers[k]).join(', ');
  }
  return '';
}

const REASONS = {
  presentation_attack: 'a presentation attack (print, screen or mask)',
  face_not_detected: 'no face found',
  several_faces: 'more than one face',
  face_too_small: 'the face is too small',
  missing_image: 'no image in the request',
};

function forwarded(status, body, sent, raw) {
  const verdict = echoed(body, 'X-Liveness-Verdict');
  const reason = echoed(body, 'X-Liveness-Reason');
  const score = echoed(body, 'X-Liveness-Score');
  const vendor = echoed(body, 'X-Liveness-Vendor');
  let title;
  if (verdict === 'live') title = 'A live face: the upload went through';
  else if (verdict) title = 'The upload went through, marked “' + verdict + '”';
  else title = 'The upload went through';
  const rows = [
    ['HTTP status', status + ' (forwarded to the upstream)'],
    ['Verdict', verdict || 'not reported by the upstream'],
    ['Reason', reason ? reason + (REASONS[reason] ? ' — ' + REASONS[reason] : '') : 'none given'],
  ];
  if (vendor) rows.push(['Checked by', vendor]);
  if (score) rows.push(['Score', score + ' (0 to 1, higher is live)']);
  if (body && typeof body.body_size === 'number') rows.push(['Upstream got', kb(body.body_size)]);
  rows.push(['Sent as', sent]);
  const parts = [
    h3(title),
    p(verdict
      ? 'The liveness check let the picture through and told the server behind it ' +
        'what it found. These are the headers that server received:'
      : 'The answer does not say what the liveness check found (this page reads ' +
        'the demo upstream, which echoes the headers it received).'),
    dl(rows),
    p('Clients of a real deployment never see scores: the X-Liveness-Score header ' +
      'goes only to the upstream. This demo upstream echoes its request headers back, ' +
      'which is why the score shows here.', 'note'),
    rawDetails(raw),
  ];
  show('done', { status, verdict: verdict || 'unknown' }, parts);
}

// The words for a denial; message is the gate's {err.message}.
function explain(status, message) {
  const m = (message || '').toLowerCase();
  switch (status) {
    case 403:
      return ['Not a live face', 'The liveness check says this is not a live face ' +
        '(print, screen or mask). The upload was blocked.'];
    case 422:
      if (m.includes('more than one face')) {
        return ['More than one face', 'There is more than one face in the picture. ' +
          'Only one person should be in it.'];
      }
      if (m.includes('too small')) {
        return ['The face is too small', 'The face in the picture is too small to judge. ' +
          'Come closer to the camera.'];
      }
      return ['No face found', 'No face was found in the picture. Look straight at the ' +
        'camera, in good light.'];
    case 413:
      return ['The picture is too large', 'The upload is too large (too many bytes, too ' +
        'many pixels or too many images). Try a smaller photo.'];
    case 415:
      return ['Not an image the check accepts', 'The file is not an image the check can ' +
        'read (for example HEIC or TIFF), or it is damaged. Try a JPEG or PNG.'];
    case 400:
      if (m.startsWith('no image')) {
        return ['No image found', 'The request held no image the check could find.'];
      }
      return ['The request was not clear', 'The request was malformed or could be read ' +
        'in more than one way, so it was refused.'];
    case 408:
      return ['The upload was too slow', 'The picture did not arrive in time. Try again ' +
        'on a better connection.'];
    case 503:
      return ['The check is unavailable', 'The liveness check is unavailable or busy ' +
        'right now. Try again in a moment.'];
    default:
      return ['The upload was refused', 'The server answered HTTP ' + status + '.'];
  }
}

function denied(status, body, sent, raw) {
  const message = body && typeof body.error === 'string' ? body.error : '';
  const [title, words] = explain(status, message);
  const verdict = status === 403 ? 'spoof' : status === 422 ? 'no_face' : 'error';
  const rows = [['HTTP status', String(status) + ' (blocked; the upstream saw nothing)']];
  if (message) rows.push(['The server said', message]);
  if (body && body.id) rows.push(['Error id', body.id + ' (the same id is in the server log)']);
  rows.push(['Sent as', sent]);
  show('done', { status, verdict }, [h3(title), p(words), dl(rows), rawDetails(raw)]);
}

// --- small DOM helpers ----------------------------------------------------

function show(state, attrs, children) {
  result.dataset.state = state;
  if (attrs.status === undefined) delete result.dataset.status;
  else result.dataset.status = String(attrs.status);
  if (attrs.verdict === undefined) delete result.dataset.verdict;
  else result.dataset.verdict = attrs.verdict;
  $('result-body').replaceChildren(...children);
  if (state === 'done') result.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
const p = (text, cls) => el('p', text, cls);
const h3 = (text) => el('h3', text);

function dl(rows) {
  const list = el('dl');
  for (const [k, v] of rows) list.append(el('dt', k), el('dd', v));
  return list;
}

function rawDetails(raw) {
  const d = el('details');
  d.append(el('summary', 'The raw response'), el('pre', raw));
  return d;
}

function kb(n) {
  return n < 1024 ? n + ' bytes' : (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
}

$('camera-start').addEventListener('click', openCamera);
$('camera-stop').addEventListener('click', closeCamera);
$('capture').addEventListener('click', takeSelfie);
$('file').addEventListener('change', pickFile);
$('send').addEventListener('click', send);
