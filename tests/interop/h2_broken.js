'use strict';
// h2_broken.js - a small Node `http2` server for `wsv probe --h2`'s tests:
//
//   node h2_broken.js [--cert FILE --key FILE] [--mode MODE] [--status N]
//
// TLS (ALPN h2) with --cert/--key, else cleartext h2c with prior knowledge.
// It prints "listening https://127.0.0.1:PORT/" (or http://) on stdout and
// serves until SIGTERM.  MODE:
//   error      (default) announces SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 but
//              answers every extended CONNECT with --status (default 501)
//              and a one-line body: the deployment that breaks WebSockets
//              over HTTP/2 while saying it serves them;
//   nosetting  does not announce the setting (a plain HTTP/2 server);
//   echo       a correct RFC 8441 server: 200 to a version-13 extended
//              CONNECT (400 with sec-websocket-version: 13 otherwise),
//              echoes text and binary, answers a Close with a Close and
//              END_STREAM; an independent peer for the probe's PASS rows.
//              With --flaw F, broken in one known way:
//                version200  the 200 carries sec-websocket-version: 13
//                nolist      refusals carry no sec-websocket-version
//                426         refusals are 426 (meaningless on HTTP/2)
//                noclose     a Close is answered with RST_STREAM, no Close
//                mask        server frames are masked (RFC 6455 §5.1)
//                silent99    the CONNECT asking for 99 is never answered
// Loopback only; the port is chosen by the system.

const http2 = require('http2');
const fs = require('fs');
const { encode, Decoder } = require('./h2_frames.js');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const mode = opt('--mode', 'error');
const status = Number(opt('--status', '501'));
const cert = opt('--cert', null);
const key = opt('--key', null);
const flaw = opt('--flaw', '');
if (!['error', 'nosetting', 'echo'].includes(mode)) {
  process.stderr.write(`h2_broken.js: unknown --mode ${mode}\n`);
  process.exit(2);
}

const settings = { enableConnectProtocol: mode !== 'nosetting' };
const server = cert
  ? http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), settings, allowHTTP1: false })
  : http2.createServer({ settings });

function refuse(stream, code, text, extra = {}) {
  stream.respond({ ':status': code, 'content-type': 'text/plain', ...extra });
  stream.end(`${text}\n`);
}

function refuseVersion(stream) {
  const extra = flaw === 'nolist' ? {} : { 'sec-websocket-version': '13' };
  refuse(stream, flaw === '426' ? 426 : 400, 'h2_broken.js: sec-websocket-version must be 13', extra);
}

function echo(stream) {
  const dec = new Decoder();
  let closed = false;
  stream.on('data', (d) => {
    let frames;
    try { frames = dec.push(d); } catch (e) { stream.close(http2.constants.NGHTTP2_CANCEL); return; }
    for (const f of frames) {
      if (closed) return;
      if (!f.masked) { stream.close(http2.constants.NGHTTP2_CANCEL); return; }
      if (f.opcode === 1 || f.opcode === 2) stream.write(encode(f.opcode, f.payload, flaw === 'mask'));
      else if (f.opcode === 9) stream.write(encode(10, f.payload, false));
      else if (f.opcode === 8 && flaw === 'noclose') {
        closed = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
      } else if (f.opcode === 8) {
        closed = true;
        stream.end(encode(8, f.payload.subarray(0, 2), false));
      }
    }
  });
  stream.on('error', () => {});
}

server.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  if (headers[':method'] !== 'CONNECT') {
    refuse(stream, 200, 'h2_broken.js: an HTTP/2 test server');
    return;
  }
  if (mode === 'error') {
    refuse(stream, status, `h2_broken.js: extended CONNECT answered with ${status} on purpose`);
    return;
  }
  if (headers[':protocol'] !== 'websocket') {
    refuse(stream, 400, 'h2_broken.js: :protocol must be websocket');
    return;
  }
  if (headers['sec-websocket-version'] === '99' && flaw === 'silent99') return;
  if (headers['sec-websocket-version'] !== '13') {
    refuseVersion(stream);
    return;
  }
  stream.respond(flaw === 'version200' ? { ':status': 200, 'sec-websocket-version': '13' } : { ':status': 200 });
  echo(stream);
});
server.on('sessionError', () => {});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${cert ? 'https' : 'http'}://127.0.0.1:${server.address().port}/\n`);
});
process.on('SIGTERM', () => { server.close(); process.exit(0); });
