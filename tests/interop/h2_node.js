'use strict';
// h2_node.js WSV - Node's core `http2` module as an independent RFC 8441
// client of `wsv serve` (TLS with ALPN h2, and h2c with prior knowledge):
// the server's SETTINGS_ENABLE_CONNECT_PROTOCOL, the handshake rows (the
// :status and sec-websocket-version of an extended CONNECT asking for 13,
// 8, 7, 99, none, "013", "13, 8", the field twice; 8 again against
// --versions 13,8), masked text and binary echoed on two WebSockets of one
// session, the Close handshake ending each stream (END_STREAM), an
// unmasked client frame refused, and --no-h2-websocket / --no-http2.
// Frames: tests/interop/h2_frames.js.  Node 18 APIs only (http2.connect,
// remoteSettings, request with :protocol).

const http2 = require('http2');
const fs = require('fs');
const { Report, makePki, startServer, stop, withTimeout, lookupLoopback } = require('./lib.js');
const { encode, Decoder } = require('./h2_frames.js');

const WSV = process.argv[2] || 'wsv';
const rep = new Report('interop_h2_node');
const STEP_MS = 8000;

// An HTTP/2 session to srv and its first SETTINGS: {session, settings} or
// {error}.
function connect(srv, ca, opts = {}) {
  return withTimeout(new Promise((resolve) => {
    const url = ca ? `https://localhost:${srv.port}` : `http://127.0.0.1:${srv.port}`;
    const s = http2.connect(url, ca ? { ca: fs.readFileSync(ca), lookup: lookupLoopback, ...opts } : opts);
    s.on('error', (e) => resolve({ error: e.message }));
    s.once('remoteSettings', (settings) => resolve({ session: s, settings }));
  }), STEP_MS, 'HTTP/2 connect and SETTINGS').catch((e) => ({ error: e.message }));
}

// An extended CONNECT with the given sec-websocket-version value(s)
// (undefined: none).  Resolves to {status, headers, body, stream} (the
// stream stays open on a 2xx) or {error}.
function extendedConnect(s, srv, tls, versions) {
  return withTimeout(new Promise((resolve) => {
    const h = {
      ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': tls ? 'https' : 'http',
      ':path': '/', ':authority': `${tls ? 'localhost' : '127.0.0.1'}:${srv.port}`,
    };
    if (versions !== undefined) h['sec-websocket-version'] = versions;
    let st;
    try { st = s.request(h, { endStream: false }); } catch (e) { resolve({ error: e.message }); return; }
    st.on('error', (e) => resolve({ error: e.message }));
    st.on('close', () => resolve({ error: `stream closed (code ${st.rstCode})` }));
    st.once('response', (headers) => {
      const status = headers[':status'];
      if (status >= 200 && status < 300) { resolve({ status, headers, stream: st }); return; }
      let body = '';
      st.setEncoding('utf8');
      st.on('data', (d) => { body += d; });
      st.on('end', () => { st.close(); resolve({ status, headers, body }); });
    });
  }), STEP_MS, 'extended CONNECT').catch((e) => ({ error: e.message }));
}

// Messages on an open WebSocket stream: .next() resolves to the next frame
// or {error}; .ended tells whether END_STREAM came.
function wsReader(st) {
  const dec = new Decoder();
  const frames = [];
  const waiters = [];
  const r = { ended: false, error: null };
  const wake = () => { while (waiters.length && (frames.length || r.ended || r.error)) waiters.shift()(); };
  st.on('data', (d) => { try { frames.push(...dec.push(d)); } catch (e) { r.error = e.message; } wake(); });
  st.on('end', () => { r.ended = true; wake(); });
  st.on('close', () => { if (!r.ended) r.error = r.error || `stream closed (RST code ${st.rstCode})`; wake(); });
  st.on('error', (e) => { r.error = e.message; wake(); });
  r.next = () => withTimeout(new Promise((resolve) => {
    const take = () => resolve(frames.length ? frames.shift() : { error: r.error || (r.ended ? 'END_STREAM' : 'none') });
    if (frames.length || r.ended || r.error) take(); else waiters.push(take);
  }), STEP_MS, 'a frame').catch((e) => ({ error: e.message }));
  r.end = () => withTimeout(new Promise((resolve) => {
    if (r.ended || r.error) resolve(r.ended);
    else { st.once('end', () => resolve(true)); st.once('close', () => resolve(r.ended)); }
  }), STEP_MS, 'END_STREAM').catch(() => false);
  return r;
}

const ROWS = [
  ['13', '13', 200],
  ['8', '8', 400],
  ['7', '7', 400],
  ['99', '99', 400],
  ['none', undefined, 400],
  ['013', '013', 400],
  ['list "13, 8"', '13, 8', 400],
  ['twice', ['13', '13'], 400],
];

async function handshakeRows(label, srv, ca, rows, list) {
  const c = await connect(srv, ca);
  if (!rep.check(`${label}: HTTP/2 session and SETTINGS`, !c.error, 'SETTINGS', c.error)) return;
  rep.check(`${label}: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3)`,
    c.settings.enableConnectProtocol === true, 'true', String(c.settings.enableConnectProtocol));
  for (const [name, v, want] of rows) {
    const a = await extendedConnect(c.session, srv, !!ca, v);
    const got = a.error ? a.error : `${a.status} sec-websocket-version=${a.headers['sec-websocket-version']}`;
    if (want === 200) {
      rep.check(`${label}: version ${name} -> 200 without sec-websocket-version`,
        a.status === 200 && a.headers['sec-websocket-version'] === undefined, '200, no sec-websocket-version', got);
      if (a.stream) a.stream.close(http2.constants.NGHTTP2_CANCEL);
    } else {
      const body = a.body || '';
      rep.check(`${label}: version ${name} -> 400 listing ${list}, text/plain one-line body`,
        a.status === 400 && a.headers['sec-websocket-version'] === list &&
        /^text\/plain/.test(a.headers['content-type'] || '') && /^[^\n]+\n?$/.test(body) && body.length > 5,
        `400, sec-websocket-version: ${list}, one line`, `${got} body=${JSON.stringify(body.slice(0, 120))}`);
    }
  }
  c.session.close();
}

async function echoTwo(label, srv, ca) {
  const c = await connect(srv, ca);
  if (!rep.check(`${label}: HTTP/2 session for two WebSockets`, !c.error, 'SETTINGS', c.error)) return;
  const a = await extendedConnect(c.session, srv, !!ca, '13');
  const b = await extendedConnect(c.session, srv, !!ca, '13');
  if (!rep.check(`${label}: two extended CONNECTs on one session -> 200, 200`,
    a.status === 200 && b.status === 200, '200 200', `${a.status || a.error} ${b.status || b.error}`)) {
    c.session.destroy();
    return;
  }
  rep.check(`${label}: two different streams`, a.stream.id !== b.stream.id, 'ids differ', `${a.stream.id} ${b.stream.id}`);
  const ra = wsReader(a.stream);
  const rb = wsReader(b.stream);
  const bin = Buffer.alloc(70000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7) & 255;
  // Interleaved: text on A, binary on B, then the other way round.
  a.stream.write(encode(1, Buffer.from('h2 text on A \u00e9'), true));
  b.stream.write(encode(2, bin, true));
  b.stream.write(encode(1, Buffer.from('h2 text on B'), true));
  a.stream.write(encode(2, Buffer.from([0, 1, 2, 255]), true));
  const fa1 = await ra.next(); const fb1 = await rb.next();
  const fa2 = await ra.next(); const fb2 = await rb.next();
  const show = (f) => (f.error ? f.error : `op ${f.opcode} masked=${f.masked} ${f.payload.length} B`);
  rep.check(`${label}: A echoes text (unmasked server frame)`, fa1.opcode === 1 && !fa1.masked &&
    fa1.payload.toString() === 'h2 text on A \u00e9', 'text "h2 text on A é"', show(fa1));
  rep.check(`${label}: B echoes a 70000-byte binary (64-bit length)`, fb1.opcode === 2 && !fb1.masked &&
    Buffer.compare(fb1.payload, bin) === 0, '70000 B binary, same bytes', show(fb1));
  rep.check(`${label}: B echoes text`, fb2.opcode === 1 && fb2.payload.toString() === 'h2 text on B', 'text', show(fb2));
  rep.check(`${label}: A echoes binary`, fa2.opcode === 2 && Buffer.compare(fa2.payload, Buffer.from([0, 1, 2, 255])) === 0,
    '4 B binary', show(fa2));
  // Close A: the server's Close and END_STREAM; B still echoes.
  a.stream.write(encode(8, Buffer.from([0x03, 0xe8]), true));
  const ca1 = await ra.next();
  rep.check(`${label}: A's Close answered with a Close 1000`, ca1.opcode === 8 && ca1.payload.length >= 2 &&
    ca1.payload.readUInt16BE(0) === 1000, 'Close 1000', show(ca1));
  const endA = await ra.end();
  rep.check(`${label}: A's stream ends with END_STREAM (RFC 8441 §5)`, endA === true, 'END_STREAM', ra.error || 'none');
  a.stream.end();
  b.stream.write(encode(1, Buffer.from('after A closed'), true));
  const fb3 = await rb.next();
  rep.check(`${label}: B still echoes after A closed`, fb3.opcode === 1 && fb3.payload.toString() === 'after A closed',
    'text "after A closed"', show(fb3));
  // An unmasked client frame on B: the server fails that WebSocket, RFC
  // 6455 §5.1 and §7.1.7: no echo, a Close 1002, then the stream ends as
  // a TCP connection would after it: END_STREAM (RFC 8441 §5).
  b.stream.write(encode(1, Buffer.from('not masked'), false));
  const fb4 = await rb.next();
  const closed1002 = fb4.opcode === 8 && fb4.payload.length >= 2 && fb4.payload.readUInt16BE(0) === 1002;
  const endB = closed1002 ? await rb.end() : false;
  rep.check(`${label}: an unmasked client frame is refused: Close 1002, then END_STREAM (§5.1, §7.1.7)`,
    closed1002 && endB === true, 'Close 1002, END_STREAM',
    fb4.opcode === 8 ? `Close ${fb4.payload.length >= 2 ? fb4.payload.readUInt16BE(0) : '-'}, end ${endB}`
      : show(fb4));
  c.session.close();
}

(async () => {
  const pki = makePki(rep);
  if (!pki) rep.finish();

  // TLS: ALPN h2.
  let srv = await startServer(rep, WSV, ['--cert', pki.cert, '--key', pki.key], 'tls');
  if (srv) {
    await handshakeRows('tls', srv, pki.ca, ROWS, '13');
    await echoTwo('tls', srv, pki.ca);
    await stop(srv);
  }
  // h2c with prior knowledge.
  srv = await startServer(rep, WSV, [], 'h2c');
  if (srv) {
    await handshakeRows('h2c', srv, null, ROWS, '13');
    await echoTwo('h2c', srv, null);
    await stop(srv);
  }
  // --versions 13,8: 8 is accepted, the list names both.
  srv = await startServer(rep, WSV, ['--versions', '13,8'], 'versions 13,8');
  if (srv) {
    await handshakeRows('h2c --versions 13,8', srv, null,
      [['13', '13', 200], ['8', '8', 200], ['99', '99', 400], ['013', '013', 400]], '13, 8');
    await stop(srv);
  }
  // --no-h2-websocket: HTTP/2 without the setting.
  srv = await startServer(rep, WSV, ['--no-h2-websocket', '--cert', pki.cert, '--key', pki.key], 'no-h2-websocket');
  if (srv) {
    const c = await connect(srv, pki.ca);
    rep.check('--no-h2-websocket: HTTP/2 session', !c.error, 'SETTINGS', c.error);
    if (!c.error) {
      rep.check('--no-h2-websocket: no SETTINGS_ENABLE_CONNECT_PROTOCOL', c.settings.enableConnectProtocol !== true,
        'not true', String(c.settings.enableConnectProtocol));
      c.session.close();
    }
    await stop(srv);
  }
  // --no-http2: ALPN offers http/1.1 only, so an h2-only client fails.
  srv = await startServer(rep, WSV, ['--no-http2', '--cert', pki.cert, '--key', pki.key], 'no-http2');
  if (srv) {
    const c = await connect(srv, pki.ca);
    rep.check('--no-http2: an h2-only TLS client gets no HTTP/2 session', !!c.error, 'an ALPN/protocol error',
      c.error || 'a session');
    if (c.session) c.session.destroy();
    await stop(srv);
  }
  rep.finish();
})().catch((e) => { rep.fail('driver', 'no exception', e.stack); rep.finish(); });
