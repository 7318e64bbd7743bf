'use strict';
// Node `ws` 8 clients and a headless Chromium page for scaleout.py, driven
// over stdin/stdout: one JSON command a line in, one JSON answer a line out.
//
//   {"cmd":"open","urls":[...]}          -> {"ok":true,"n":N} (N ws clients)
//   {"cmd":"burst","i":I,"prefix":P,"n":K} -> K text messages "P:0".."P:K-1"
//   {"cmd":"sendbin","i":I,"len":L,"seed":S} -> one binary message
//   {"cmd":"dump"}                       -> {"ok":true,"clients":[[msg...]...]}
//                                           (binary as "bin:LEN:SHA1HEX",
//                                           long texts "text:LEN:SHA1HEX")
//   {"cmd":"page","url":U}               -> Chromium opens the demo page,
//                                           {"ok":true} once #status is "open"
//   {"cmd":"pagesend","text":T}          -> typed into #input, #send clicked
//   {"cmd":"pagelog"}                    -> {"ok":true,"in":[...],"out":[...]}
//   {"cmd":"quit"}                       -> closes everything, exits 0
//
// Every command is answered within its own bound ({"ok":false,"error":...}
// on failure); scaleout.py bounds every wait on the answers too.
//
// usage: node scaleout_peers.js   (started by scaleout.py)

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const L = require('./lib');

const CHROMIUM = process.env.WSV_CHROMIUM || '/usr/bin/chromium';
const clients = [];
let browser = null;
let page = null;

function say(o) { process.stdout.write(`${JSON.stringify(o)}\n`); }

function binRecord(buf) {
  return `bin:${buf.length}:${crypto.createHash('sha1').update(buf).digest('hex')}`;
}

// Texts over 1000 characters as text:BYTES:SHA1 (as scaleout.py does).
function textRecord(buf) {
  const t = buf.toString();
  if (t.length <= 1000) return t;
  return `text:${buf.length}:${crypto.createHash('sha1').update(buf).digest('hex')}`;
}

function pseudoRandom(len, seed) {
  // The same bytes as scaleout.py's pseudo_random(len, seed): SHA-256 in
  // counter mode over "seed:counter".
  const out = Buffer.alloc(len);
  let off = 0;
  for (let c = 0; off < len; c++) {
    const h = crypto.createHash('sha256').update(`${seed}:${c}`).digest();
    h.copy(out, off, 0, Math.min(h.length, len - off));
    off += h.length;
  }
  return out;
}

function open(url) {
  const { WebSocket } = require('ws');
  return L.withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 << 20 });
    ws.got = [];
    ws.on('message', (data, isBinary) => {
      ws.got.push(isBinary ? binRecord(data) : textRecord(data));
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  }), 6000, `open ${url}`);
}

async function launchPage(url) {
  const pw = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsv-scaleout-chromium-'));
  browser = await pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  browser.userDataDir = userDataDir;
  page = await browser.newPage();
  await page.goto(url, { timeout: 10000 });
  await page.waitForFunction(() => {
    const s = document.querySelector('#status');
    return s && s.textContent.trim().toLowerCase() === 'open';
  }, null, { timeout: 10000 });
}

async function handle(m) {
  switch (m.cmd) {
    case 'open': {
      for (const u of m.urls) clients.push(await open(u));
      return { n: clients.length };
    }
    case 'burst': {
      const ws = clients[m.i];
      for (let k = 0; k < m.n; k++) ws.send(`${m.prefix}:${k}`);
      return {};
    }
    case 'sendbin': {
      clients[m.i].send(pseudoRandom(m.len, m.seed), { binary: true });
      return {};
    }
    case 'dump':
      return { clients: clients.map((c) => c.got), states: clients.map((c) => c.readyState) };
    case 'page':
      await L.withTimeout(launchPage(m.url), 45000, 'chromium page');
      return {};
    case 'pagesend':
      await page.fill('#input', m.text);
      await page.click('#send');
      return {};
    case 'pagelog': {
      const cls = (c) => page.evaluate((k) => Array.from(document.querySelectorAll(`#log .${k}`))
        .map((e) => e.textContent), c);
      return { in: await cls('in'), out: await cls('out') };
    }
    case 'quit':
      for (const c of clients) c.terminate();
      if (browser) {
        try { await L.withTimeout(browser.close(), 10000, 'browser close'); } catch (e) { /* */ }
        fs.rmSync(browser.userDataDir, { recursive: true, force: true });
      }
      say({ ok: true });
      process.exit(0);
      break;
    default:
      throw new Error(`unknown command ${m.cmd}`);
  }
  return {};
}

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    let m;
    try {
      m = JSON.parse(line);
      say({ ok: true, ...(await handle(m)) });
    } catch (e) {
      say({ ok: false, error: String(e && e.message ? e.message : e).split('\n')[0] });
    }
  });
});
rl.on('close', () => { chain.then(() => process.exit(0)); });
// Never outlive the driver by long (it ends us by PID anyway).
setTimeout(() => process.exit(3), 600000).unref();
