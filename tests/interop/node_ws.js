'use strict';
// Node `ws` 8 against the wsv command, both ways.
//
//   client role: new WebSocket(url) against `wsv serve` (echo): text and
//                binary 0 B .. 1 MiB, ping/pong, close codes echoed,
//                permessage-deflate offered (ws's default) and agreed
//                (declined under serve --no-deflate),
//                50 concurrent clients.
//   server role: new WebSocketServer({port: 0}) driving `wsv connect`:
//                stdin lines -> text messages, printed replies, stdin EOF
//                -> close 1000 and exit 0, --echo with every type, server
//                close, dropped TCP -> non-zero exit with a one-line reason.
//
// usage: node node_ws.js WSV

const crypto = require('crypto');
const L = require('./lib');

const rep = new L.Report('interop node ws');
const WSV = process.argv[2];
if (!WSV) { console.log('usage: node node_ws.js WSV'); process.exit(2); }
const wsmod = L.requireModule(rep, 'ws');
if (!wsmod) rep.finish();
const { WebSocket, WebSocketServer } = wsmod;

const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20];

// A client with a message queue: next() resolves to {data, isBinary}.
function client(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 << 20, ...opts });
    const queue = [];
    const waiters = [];
    ws.closed = new Promise((r) => ws.on('close', (code, reason) => {
      ws.closeCode = code;
      ws.closeReason = reason.toString();
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
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

function textOf(n) {
  return 'aé€😀'.repeat(Math.ceil(n / 10) + 1).slice(0, n);
}

async function clientCases(srv) {
  let ws;
  try {
    ws = await L.withTimeout(client(srv.url), 6000, 'open');
  } catch (e) {
    rep.fail('node client: connect to wsv serve', 'open', String(e));
    return;
  }
  rep.check('node client: permessage-deflate offered and agreed (serve\'s default)',
    ws.extensions === 'permessage-deflate', "extensions 'permessage-deflate'", JSON.stringify(ws.extensions));
  for (const kind of ['text', 'binary']) {
    for (const n of SIZES) {
      const name = `node client: echo ${kind} ${n}`;
      const msg = kind === 'text' ? textOf(n) : crypto.randomBytes(n);
      try {
        ws.send(msg, { binary: kind === 'binary' });
        const got = await ws.next();
        const same = kind === 'text'
          ? !got.isBinary && got.data.toString('utf8') === msg
          : got.isBinary && Buffer.compare(got.data, msg) === 0;
        rep.check(name, same, `${kind} of ${Buffer.byteLength(msg)} B`,
          `${got.isBinary ? 'binary' : 'text'} of ${got.data.length} B`);
      } catch (e) {
        rep.fail(name, 'the same message back', String(e));
        return;
      }
    }
  }
  // Fragmented send: ws can send a message in fragments with fin: false.
  try {
    ws.send('frag-', { fin: false });
    ws.send('ment-', { fin: false });
    ws.send('ed', { fin: true });
    const got = await ws.next();
    rep.check('node client: fragmented text message reassembled', got.data.toString() === 'frag-ment-ed',
      'frag-ment-ed', got.data.toString());
  } catch (e) {
    rep.fail('node client: fragmented text message reassembled', 'frag-ment-ed', String(e));
  }
  try {
    for (let i = 0; i < 1000; i++) ws.send(`m${i}`);
    let ok = true;
    let first = '';
    for (let i = 0; i < 1000; i++) {
      const g = (await ws.next()).data.toString();
      if (g !== `m${i}` && ok) { ok = false; first = `at ${i}: ${g}`; }
    }
    rep.check('node client: 1000 small messages in order', ok, 'm0..m999', first);
  } catch (e) {
    rep.fail('node client: 1000 small messages in order', 'm0..m999', String(e));
  }
  for (const n of [0, 10, 125]) {
    const name = `node client: ping ${n} B -> pong with the same payload`;
    const payload = crypto.randomBytes(n);
    try {
      const pong = L.withTimeout(new Promise((r) => ws.once('pong', r)), 5000, 'pong');
      ws.ping(payload);
      const got = await pong;
      rep.check(name, Buffer.compare(got, payload) === 0, payload.toString('hex'), got.toString('hex'));
    } catch (e) {
      rep.fail(name, 'pong', String(e));
    }
  }
  try {
    ws.close(1000, 'bye');
    const code = await L.withTimeout(ws.closed, 6000, 'close');
    rep.check('node client: close 1000 echoed', code === 1000, 1000, code);
  } catch (e) {
    rep.fail('node client: close 1000 echoed', 1000, String(e));
  }
  for (const code of [1001, 1003, 3000, 4000, 4999]) {
    const name = `node client: close ${code} echoed`;
    try {
      const c = await L.withTimeout(client(srv.url), 6000, 'open');
      c.send('x');
      await c.next();
      c.close(code, 'reason-text');
      const got = await L.withTimeout(c.closed, 6000, 'close');
      rep.check(name, got === code, code, `${got} ${c.closeReason}`);
    } catch (e) {
      rep.fail(name, code, String(e));
    }
  }
  // 50 concurrent clients
  const t0 = Date.now();
  const one = async (i) => {
    const c = await client(srv.url);
    for (let j = 0; j < 20; j++) {
      const m = `c${i}-${j}-`.repeat(j + 1);
      c.send(m);
      const g = (await c.next()).data.toString();
      if (g !== m) throw new Error(`client ${i} message ${j}: got ${g.slice(0, 40)}`);
    }
    c.close(1000);
    await L.withTimeout(c.closed, 6000, 'close');
    if (c.closeCode !== 1000) throw new Error(`client ${i} close ${c.closeCode}`);
  };
  const res = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => one(i)));
  const bad = res.filter((r) => r.status === 'rejected');
  rep.check('node client: 50 concurrent clients x 20 echoes, close 1000', bad.length === 0, 'all ok',
    `${bad.length} failed; first: ${bad[0] && bad[0].reason}`);
  console.log(`     (50 clients in ${(Date.now() - t0) / 1000} s)`);
}

// ------------------------------------------------------------ server role

function pyServer(onConn) {
  return new Promise((resolve) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20 });
    wss.on('connection', onConn);
    wss.on('listening', () => {
      wss.url = `ws://127.0.0.1:${wss.address().port}/`;
      resolve(wss);
    });
  });
}

function closeServer(wss) {
  for (const c of wss.clients) c.terminate();
  return new Promise((r) => wss.close(() => r()));
}

async function serverCases() {
  // lines -> messages -> replies printed; EOF -> close 1000, exit 0
  {
    const got = [];
    let closeCode = null;
    let offered = null;
    const wss = await pyServer((ws, req) => {
      offered = req.headers['sec-websocket-extensions'] || '';
      ws.on('message', (d, bin) => { got.push([d.toString(), bin]); ws.send(`re:${d}`); });
      ws.on('close', (code) => { closeCode = code; });
    });
    const p = L.run([WSV, 'connect', wss.url]);
    const lines = ['one', 'two words', 'ünï €', 'z'.repeat(70000)];
    for (const l of lines) p.stdin.write(`${l}\n`);
    const want = lines.map((l) => `re:${l}\n`).join('');
    await L.waitOutput(p, (o) => o.length >= Buffer.byteLength(want, 'latin1') && o, 10000);
    rep.check('node server: connect stdin lines -> text messages',
      JSON.stringify(got) === JSON.stringify(lines.map((l) => [l, false])),
      JSON.stringify(lines).slice(0, 80), JSON.stringify(got).slice(0, 200));
    rep.check('node server: connect prints replies one per line',
      Buffer.from(p.out, 'latin1').toString('utf8') === want,
      JSON.stringify(want.slice(0, 60)), p.text());
    p.stdin.end();
    const ex = await L.waitExit(p, 8000);
    await L.sleep(100);
    rep.check('node server: stdin EOF -> close 1000', closeCode === 1000, 1000, `${closeCode} ${p.text()}`);
    rep.check('node server: connect exit 0', ex && ex.code === 0, 'exit 0', `${JSON.stringify(ex)} ${p.text()}`);
    rep.check('node server: connect offers permessage-deflate by default',
      offered === 'permessage-deflate; client_max_window_bits',
      "'permessage-deflate; client_max_window_bits'", JSON.stringify(offered));
    await closeServer(wss);
  }
  // --no-deflate: no extension offered
  {
    let offered = null;
    const wss = await pyServer((ws, req) => {
      offered = req.headers['sec-websocket-extensions'] || '';
      ws.on('message', (d) => ws.send(`re:${d}`));
    });
    const p = L.run([WSV, 'connect', '--no-deflate', wss.url]);
    p.stdin.write('nd\n');
    await L.waitOutput(p, (o) => o.includes('\n'), 10000);
    p.stdin.end();
    const ex = await L.waitExit(p, 8000);
    rep.check('node server: connect --no-deflate offers no extension, echo works',
      offered === '' && ex && ex.code === 0 && p.out === 're:nd\n', "'' offered, 're:nd', exit 0",
      `${JSON.stringify(offered)} ${JSON.stringify(ex)} ${p.text()}`);
    await closeServer(wss);
  }
  // --echo: every type back unchanged, then the server closes 1000
  {
    const samples = [['t1', false], ['', false], [crypto.randomBytes(3), true], [Buffer.alloc(0), true],
      [crypto.randomBytes(200000), true], ['ü'.repeat(40000), false]];
    let result = null;
    const wss = await pyServer(async (ws) => {
      const queue = [];
      let wake = null;
      ws.on('message', (d, bin) => { queue.push([d, bin]); if (wake) wake(); });
      const next = () => L.withTimeout(new Promise((r) => {
        if (queue.length) r(queue.shift()); else wake = () => { wake = null; r(queue.shift()); };
      }), 10000, 'echo');
      try {
        const bad = [];
        for (const [m, bin] of samples) {
          ws.send(m, { binary: bin });
          const [d, b] = await next();
          const same = b === bin && Buffer.compare(Buffer.from(d), Buffer.from(m)) === 0;
          if (!same) bad.push(`${bin ? 'binary' : 'text'} ${Buffer.byteLength(m)} -> ${b ? 'binary' : 'text'} ${d.length}`);
        }
        result = bad;
        ws.close(1000, 'done');
      } catch (e) {
        result = [String(e)];
        ws.terminate();
      }
    });
    const p = L.run([WSV, 'connect', '--echo', wss.url]);
    const ex = await L.waitExit(p, 15000);
    rep.check('node server: connect --echo returns every message unchanged with its type',
      Array.isArray(result) && result.length === 0, 'no mismatch', `${JSON.stringify(result)} ${p.text()}`);
    rep.check('node server: connect --echo exit 0 on server close 1000', ex && ex.code === 0, 'exit 0',
      `${JSON.stringify(ex)} ${p.text()}`);
    p.stdin.end();
    await closeServer(wss);
  }
  // server terminates the TCP connection -> non-zero, one line on stderr
  {
    const wss = await pyServer((ws) => { ws.send('bye'); setTimeout(() => ws.terminate(), 50); });
    const p = L.run([WSV, 'connect', wss.url]);
    const ex = await L.waitExit(p, 8000);
    const err = p.err.trim();
    rep.check('node server: TCP dropped -> non-zero exit, one-line reason',
      ex && ex.code !== 0 && err !== '' && !err.includes('\n'), 'exit != 0, one stderr line',
      `${JSON.stringify(ex)} ${p.text()}`);
    p.stdin.end();
    await closeServer(wss);
  }
  // server closes with 1000 right away, wsv prints nothing and exits 0
  {
    const wss = await pyServer((ws) => { ws.send('only'); ws.close(1000); });
    const p = L.run([WSV, 'connect', wss.url]);
    const ex = await L.waitExit(p, 8000);
    rep.check('node server: server close 1000 -> output printed, exit 0',
      ex && ex.code === 0 && p.out === 'only\n', "exit 0, stdout 'only\\n'", `${JSON.stringify(ex)} ${p.text()}`);
    p.stdin.end();
    await closeServer(wss);
  }
}

(async () => {
  const srv = await L.startServer(rep, WSV, [], 'node client');
  if (srv) {
    try {
      await L.withTimeout(clientCases(srv), 120000, 'client cases');
    } catch (e) {
      rep.fail('node client: cases', 'no exception', String(e));
    }
    rep.check('node client: wsv serve still running', srv.exitCode === null, 'running', srv.text());
    const ex = await L.stop(srv);
    rep.check('node client: wsv serve SIGTERM -> exit 0', ex && ex.code === 0, 'exit 0', `${JSON.stringify(ex)} ${srv.text()}`);
  }
  const nd = await L.startServer(rep, WSV, ['--no-deflate'], 'node client');
  if (nd) {
    try {
      const ws = await L.withTimeout(client(nd.url), 6000, 'open');
      rep.check('node client: serve --no-deflate: deflate offered, not agreed', ws.extensions === '',
        "extensions ''", JSON.stringify(ws.extensions));
      ws.send('plain');
      const got = await ws.next();
      rep.check('node client: serve --no-deflate: echo', got.data.toString() === 'plain', 'plain', got.data.toString());
      ws.close(1000);
      await L.withTimeout(ws.closed, 6000, 'close');
    } catch (e) {
      rep.fail('node client: serve --no-deflate', 'open, echo, close', String(e));
    }
    await L.stop(nd);
  }
  try {
    await L.withTimeout(serverCases(), 120000, 'server cases');
  } catch (e) {
    rep.fail('node server: cases', 'no exception', String(e));
  }
  rep.finish();
})();
