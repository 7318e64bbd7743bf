'use strict';
// permessage-deflate (RFC 7692) x TLS with Node `ws` 8, both ways.  A CA and
// a certificate for localhost/127.0.0.1 are made with openssl at run time.
//
//   client role: new WebSocket(url, {perMessageDeflate: {threshold: 0, ...},
//                ca}) against `wsv serve --deflate on|lean|off` over ws://
//                and wss://: the agreed Sec-WebSocket-Extensions (ws
//                .extensions) for the default offer, no context takeover
//                both ways, serverMaxWindowBits 10, clientMaxWindowBits 10,
//                serverMaxWindowBits 8 (declined: deflate.h); echo of 1 MiB
//                compressible text (ws._socket.bytesRead shows the server
//                compressed), 256 KiB random binary, a fragmented message,
//                close codes.
//   server role: new WebSocketServer({perMessageDeflate, server}) on http
//                and https, driving `wsv connect --echo` (default,
//                --no-deflate; --cacert): every message echoed, the agreed
//                header, wsv's compression seen in req.socket.bytesRead.
//
// usage: node node_deflate_tls.js WSV

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const L = require('./lib');

const rep = new L.Report('interop deflate x TLS (node ws)');
const WSV = process.argv[2];
if (!WSV) { console.log('usage: node node_deflate_tls.js WSV'); process.exit(2); }
const wsmod = L.requireModule(rep, 'ws');
if (!wsmod) rep.finish();
const { WebSocket, WebSocketServer } = wsmod;
const PKI = L.makePki(rep);
if (!PKI) rep.finish();
const CA = fs.readFileSync(PKI.ca);

const MIB = 1 << 20;
const COMPRESSIBLE = 'The quick brown fox jumps over the lazy dog. '.repeat(MIB / 45 + 1).slice(0, MIB);
const RANDOM_256K = crypto.randomBytes(256 << 10);
const LEAN = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';

function client(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 << 20, lookup: L.lookupLoopback, ...opts });
    const queue = [];
    const waiters = [];
    ws.closed = new Promise((r) => ws.on('close', (code) => {
      ws.closeCode = code;
      r(code);
      while (waiters.length) waiters.shift().reject(new Error(`closed ${code}`));
    }));
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiters.length) waiters.shift().resolve(m); else queue.push(m);
    });
    ws.next = (ms = 10000) => L.withTimeout(new Promise((res, rej) => {
      if (queue.length) res(queue.shift()); else waiters.push({ resolve: res, reject: rej });
    }), ms, 'message');
    ws.answer = null;
    ws.once('upgrade', (res) => { ws.answer = res.headers['sec-websocket-extensions'] || ''; });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// [name, perMessageDeflate options, expected extensions for serve on, for serve lean]
// ws offers client_max_window_bits (no value) by default, so serve on holds
// the client to 13 bits (RFC 7692 §7.1.2.2); lean answers windows as offered.
const CMWB13 = 'client_max_window_bits=13';
const OFFERS = [
  ['default offer', { threshold: 0 }, `permessage-deflate; ${CMWB13}`, LEAN],
  ['no context takeover both ways', { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    `${LEAN}; ${CMWB13}`, LEAN],
  ['serverMaxWindowBits 10', { threshold: 0, serverMaxWindowBits: 10 },
    `permessage-deflate; server_max_window_bits=10; ${CMWB13}`, `${LEAN}; server_max_window_bits=10`],
  ['clientMaxWindowBits 10', { threshold: 0, clientMaxWindowBits: 10 },
    'permessage-deflate; client_max_window_bits=10', `${LEAN}; client_max_window_bits=10`],
  ['serverMaxWindowBits 8 (declined)', { threshold: 0, serverMaxWindowBits: 8 }, '', ''],
  ['perMessageDeflate false', false, '', ''],
];

function normExt(s) { // parameter order is free: compare as sorted lists
  return s.split(',').map((e) => e.split(';').map((p) => p.trim()).filter(Boolean)
    .sort((a, b) => (a === 'permessage-deflate' ? -1 : b === 'permessage-deflate' ? 1 : a.localeCompare(b))).join('; ')).join(', ');
}

async function clientMatrix(mode, tls) {
  const args = mode === 'on' ? [] : ['--deflate', mode];
  if (tls) args.push('--cert', PKI.cert, '--key', PKI.key);
  const tag = `node client x serve --deflate ${mode} ${tls ? 'wss' : 'ws'}`;
  const srv = await L.startServer(rep, WSV, args, tag);
  if (!srv) return;
  const url = tls ? srv.hostUrl : srv.url;
  const offers = mode === 'on' ? OFFERS : OFFERS.filter((o) => o[0] === 'default offer' || o[1] === false);
  for (const [oname, pmd, wantOn, wantLean] of offers) {
    const want = mode === 'off' ? '' : mode === 'on' ? wantOn : wantLean;
    const t = `${tag}, ${oname}`;
    try {
      const ws = await L.withTimeout(client(url, { perMessageDeflate: pmd, ...(tls ? { ca: CA } : {}) }), 6000, 'open');
      rep.check(`${t}: agreed Sec-WebSocket-Extensions (and ws.extensions)`,
        normExt(ws.answer) === normExt(want) && ws.extensions === (want ? 'permessage-deflate' : ''),
        JSON.stringify(want), `${JSON.stringify(ws.answer)} (ws.extensions ${JSON.stringify(ws.extensions)})`);
      if (tls) {
        const proto = ws._socket.getProtocol && ws._socket.getProtocol();
        rep.check(`${t}: TLS with the CA's certificate`, ws._socket.authorized === true && /^TLSv1\.[23]$/.test(proto),
          'authorized, TLSv1.2/1.3', `${ws._socket.authorized} ${proto}`);
      }
      const r0 = ws._socket.bytesRead;
      ws.send(COMPRESSIBLE);
      let got = await ws.next();
      const down = ws._socket.bytesRead - r0;
      rep.check(`${t}: echo 1 MiB compressible text`, !got.isBinary && got.data.toString() === COMPRESSIBLE,
        'the same text', `${got.isBinary ? 'binary' : 'text'} ${got.data.length} B`);
      if (want) {
        rep.check(`${t}: the server compressed it (bytesRead < 1/20)`, down < MIB / 20, `< ${MIB / 20}`, down);
      } else {
        rep.check(`${t}: sent uncompressed (bytesRead >= 1 MiB)`, down >= MIB, `>= ${MIB}`, down);
      }
      ws.send(RANDOM_256K);
      got = await ws.next();
      rep.check(`${t}: echo 256 KiB random binary`, got.isBinary && Buffer.compare(got.data, RANDOM_256K) === 0,
        'the same bytes', `${got.data.length} B`);
      ws.send('frag-'.repeat(100), { fin: false });
      ws.send(Buffer.alloc(3000, 'm'), { fin: false });
      ws.send('-ed', { fin: true });
      got = await ws.next();
      const wantF = `${'frag-'.repeat(100)}${'m'.repeat(3000)}-ed`;
      rep.check(`${t}: fragmented message reassembled`, got.data.toString() === wantF, `${wantF.length} chars`,
        `${got.data.length}`);
      for (let i = 0; i < 20; i++) ws.send(`small ${i} `.repeat(i * 10));
      let order = true;
      for (let i = 0; i < 20; i++) if ((await ws.next()).data.toString() !== `small ${i} `.repeat(i * 10)) order = false;
      rep.check(`${t}: 20 messages in order`, order, 'in order', order);
      ws.close(4000, 'r');
      const code = await L.withTimeout(ws.closed, 6000, 'close');
      rep.check(`${t}: close 4000 echoed`, code === 4000, 4000, code);
    } catch (e) {
      rep.fail(`${t}: cases`, 'no exception', String(e));
    }
  }
  rep.check(`${tag}: serve still running`, srv.exitCode === null, 'running', srv.text());
  const ex = await L.stop(srv);
  rep.check(`${tag}: SIGTERM -> exit 0`, ex && ex.code === 0, 'exit 0', `${JSON.stringify(ex)} ${srv.text()}`);
}

// ------------------------------------------------------------ server role

const SERVER_VARIANTS = [
  ['perMessageDeflate true', true, 'permessage-deflate'],
  ['no context takeover, 10-bit windows', {
    threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true,
    serverMaxWindowBits: 10, clientMaxWindowBits: 10,
  }, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10'],
  ['perMessageDeflate false', false, ''],
];

async function serverMatrix([vname, pmd, wantExt], wsvDeflate, tls) {
  const tag = `node server (${vname}) x connect${wsvDeflate ? '' : ' --no-deflate'} ${tls ? 'wss' : 'ws'}`;
  const hs = tls ? https.createServer({ cert: fs.readFileSync(PKI.cert), key: fs.readFileSync(PKI.key) })
    : http.createServer();
  await new Promise((r) => hs.listen(0, '127.0.0.1', r));
  const wss = new WebSocketServer({ server: hs, perMessageDeflate: pmd, maxPayload: 64 << 20 });
  let answered = null;
  let offered = null;
  wss.on('headers', (headers, req) => {
    offered = req.headers['sec-websocket-extensions'] || '';
    const h = headers.find((x) => /^sec-websocket-extensions:/i.test(x));
    answered = h ? h.replace(/^[^:]*:\s*/, '') : '';
  });
  const samples = [['t1', false], ['', false], [COMPRESSIBLE, false], [RANDOM_256K, true],
    [crypto.randomBytes(3), true], ['ü'.repeat(40000), false]];
  let result = null;
  let wire = null;
  wss.on('connection', async (ws, req) => {
    const queue = [];
    let wake = null;
    ws.on('message', (d, bin) => { queue.push([d, bin]); if (wake) wake(); });
    const next = () => L.withTimeout(new Promise((r) => {
      if (queue.length) r(queue.shift()); else wake = () => { wake = null; r(queue.shift()); };
    }), 10000, 'echo');
    try {
      const bad = [];
      for (const [m, bin] of samples) {
        const r0 = req.socket.bytesRead;
        ws.send(m, { binary: bin });
        const [d, b] = await next();
        if (m === COMPRESSIBLE) wire = req.socket.bytesRead - r0;
        if (b !== bin || Buffer.compare(Buffer.from(d), Buffer.from(m)) !== 0) {
          bad.push(`${bin ? 'binary' : 'text'} ${Buffer.byteLength(m)} -> ${b ? 'binary' : 'text'} ${d.length}`);
        }
      }
      // a fragmented message from the server
      ws.send('abc'.repeat(1000), { fin: false });
      ws.send('def'.repeat(1000), { fin: true });
      const [d] = await next();
      if (d.toString() !== 'abc'.repeat(1000) + 'def'.repeat(1000)) bad.push('fragmented');
      result = bad;
      ws.close(1000, 'done');
    } catch (e) {
      result = [String(e)];
      ws.terminate();
    }
  });
  const port = hs.address().port;
  const args = ['--echo', '-v'];
  if (!wsvDeflate) args.push('--no-deflate');
  if (tls) args.push('--cacert', PKI.ca);
  const p = L.run([WSV, 'connect', ...args, `${tls ? 'wss' : 'ws'}://localhost:${port}/`]);
  const ex = await L.waitExit(p, 20000);
  p.stdin.end();
  const agreed = wsvDeflate ? wantExt : '';
  rep.check(`${tag}: every message echoed with its type (1 MiB text, 256 KiB random, fragmented)`,
    Array.isArray(result) && result.length === 0, 'no mismatch', `${JSON.stringify(result)} ${p.text()}`);
  rep.check(`${tag}: exit 0 on the server's close 1000`, ex && ex.code === 0, 'exit 0', `${JSON.stringify(ex)} ${p.text()}`);
  rep.check(`${tag}: offer`, offered === (wsvDeflate ? 'permessage-deflate; client_max_window_bits' : ''),
    wsvDeflate ? 'permessage-deflate; client_max_window_bits' : "''", JSON.stringify(offered));
  const vline = (p.err.match(/extensions: .*/) || [''])[0];
  rep.check(`${tag}: agreed ${JSON.stringify(agreed)}, as wsv -v reports`,
    normExt(answered || '') === normExt(agreed)
      && (agreed ? normExt(vline.replace('extensions: ', '')) === normExt(agreed) : vline === 'extensions: none'),
    `${JSON.stringify(agreed)} both sides`, `answer ${JSON.stringify(answered)} / wsv ${JSON.stringify(vline)}`);
  if (wire !== null) {
    if (agreed) rep.check(`${tag}: wsv compressed the 1 MiB echo (bytesRead < 1/20)`, wire < MIB / 20, `< ${MIB / 20}`, wire);
    else rep.check(`${tag}: 1 MiB echo uncompressed (bytesRead >= 1 MiB)`, wire >= MIB, `>= ${MIB}`, wire);
  }
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(() => r()));
  await new Promise((r) => hs.close(() => r()));
}

async function tlsFailures() {
  const hs = https.createServer({ cert: fs.readFileSync(PKI.cert), key: fs.readFileSync(PKI.key) });
  await new Promise((r) => hs.listen(0, '127.0.0.1', r));
  const wss = new WebSocketServer({ server: hs });
  wss.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
  const port = hs.address().port;
  for (const [name, args, good] of [['no --cacert (unknown CA)', [], false], ['--insecure', ['--insecure'], true],
    ['--cacert CA', ['--cacert', PKI.ca], true]]) {
    const p = L.run([WSV, 'connect', ...args, `wss://localhost:${port}/`]);
    p.stdin.write('node-tls\n');
    if (good) await L.waitOutput(p, (o) => o.includes('\n'), 8000);
    p.stdin.end();
    const ex = await L.waitExit(p, 10000);
    const err = p.err.trim();
    if (good) {
      rep.check(`connect x node wss server, ${name}: echo, exit 0`, ex && ex.code === 0 && p.out === 'node-tls\n',
        'exit 0, echo', `${JSON.stringify(ex)} ${p.text()}`);
    } else {
      rep.check(`connect x node wss server, ${name}: exit 1, one line naming the unknown issuer`,
        ex && ex.code === 1 && err && !err.includes('\n') && /verify/i.test(err) && /issuer/i.test(err),
        'exit 1, one line', `${JSON.stringify(ex)} ${p.text()}`);
    }
  }
  // node client without the CA refuses wsv serve's certificate
  const srv = await L.startServer(rep, WSV, ['--cert', PKI.cert, '--key', PKI.key], 'node client, no CA');
  if (srv) {
    try {
      await L.withTimeout(client(srv.hostUrl), 6000, 'open');
      rep.fail('node client without the CA x wsv serve --cert: refused', 'a certificate error', 'opened');
    } catch (e) {
      rep.check('node client without the CA x wsv serve --cert: refused', /certificate|issuer/i.test(String(e)),
        'a certificate error', String(e));
    }
    await L.stop(srv);
  }
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(() => r()));
  await new Promise((r) => hs.close(() => r()));
}

(async () => {
  try {
    for (const tls of [false, true]) {
      for (const mode of ['on', 'lean', 'off']) await L.withTimeout(clientMatrix(mode, tls), 60000, `client ${mode}`);
    }
    for (const tls of [false, true]) {
      for (const v of SERVER_VARIANTS) {
        for (const d of [true, false]) await L.withTimeout(serverMatrix(v, d, tls), 30000, `server ${v[0]}`);
      }
    }
    await L.withTimeout(tlsFailures(), 40000, 'tls failures');
  } catch (e) {
    rep.fail('node deflate x TLS: cases', 'no exception', String(e));
  }
  rep.finish();
})();
