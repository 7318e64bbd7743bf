'use strict';
// Headless Chromium (Debian chromium, /usr/bin/chromium) driven by
// playwright-core, loading the demo page of `wsv serve`.
//
//   echo : #status reads "open", type into #input, click #send, the echo
//          appears in #log .in (and the sent message in #log .out)
//   chat : `wsv serve --chat`, two pages on the same path see each other's
//          messages
//   deflate x TLS : `wsv serve [--no-deflate] [--cert --key
//          [--no-h2-websocket]]`, the page over http:// and https://
//          (certificate errors ignored: the test CA is made at run time), a
//          second WebSocket opened in the page: .extensions, ~1 MiB text
//          and 256 KiB random echoed, close 4000, bytes on the wire through
//          a counting relay.  Over https:// the page comes over h2 (ALPN,
//          on by default) and its WebSockets ride that connection (RFC
//          8441, "over HTTP/2" in the server's log); with
//          --no-h2-websocket they are wss:// over HTTP/1.1 as before.  The
//          relay counts TLS bytes either way, so the compression check
//          holds for both.  (chromium_h2.js is the HTTP/2 test proper.)
//   origin : `wsv serve --exec cat` and a page from another origin (a tiny
//          Node HTTP server on another loopback port) opening a WebSocket
//          to it: refused (403, logged); with --origin naming that page's
//          origin: echoed; the exec server's own page: echoed
//   a screenshot of each page goes to a temporary file (printed, not kept
//   in the tree) for a human to look at.
//
// usage: node chromium.js WSV

const fs = require('fs');
const os = require('os');
const path = require('path');
const L = require('./lib');

const rep = new L.Report('interop chromium');
const WSV = process.argv[2];
if (!WSV) { console.log('usage: node chromium.js WSV'); process.exit(2); }
const CHROMIUM = process.env.WSV_CHROMIUM || '/usr/bin/chromium';
const pw = L.requireModule(rep, 'playwright-core');
if (!fs.existsSync(CHROMIUM)) {
  rep.fail('peer: chromium', `${CHROMIUM} (Debian chromium)`, 'missing (run tests/interop/setup.sh as root)');
}
if (!pw || rep.failed.length) rep.finish();
const PKI = L.makePki(rep);

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // http(s)://localhost pages go to 127.0.0.1, where the servers listen,
  // whatever localhost resolves to (Debian's /etc/hosts also says ::1)
  '--host-resolver-rules=MAP localhost 127.0.0.1'];

// Screenshots stay in the test's output folder (ctest's working directory,
// the build tree's tests/interop), replaced by each run.
const shotDir = path.join(process.cwd(), 'chromium-shots');
fs.mkdirSync(shotDir, { recursive: true });

async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsv-interop-chromium-'));
  const ctx = await pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30000,
    // The test CA is made at run time and Chromium cannot simply be told to
    // trust it, so certificate errors are ignored in this context; the
    // https:// page load and the wss:// socket are still real TLS.
    ignoreHTTPSErrors: true,
  });
  ctx.userDataDir = userDataDir;
  return ctx;
}

async function shutdown(ctx) {
  try { await L.withTimeout(ctx.close(), 10000, 'browser close'); } catch (e) { /* killed by pw */ }
  fs.rmSync(ctx.userDataDir, { recursive: true, force: true });
}

async function statusOpen(page, name) {
  try {
    await page.waitForFunction(() => {
      const s = document.querySelector('#status');
      return s && s.textContent.trim().toLowerCase() === 'open';
    }, null, { timeout: 10000 });
    return rep.check(`${name}: #status reads "open"`, true);
  } catch (e) {
    const s = await page.evaluate(() => {
      const el = document.querySelector('#status');
      return el ? el.textContent : '(no #status element)';
    }).catch((x) => String(x));
    return rep.fail(`${name}: #status reads "open"`, 'open within 10 s', JSON.stringify(s));
  }
}

async function sendText(page, text) {
  await page.fill('#input', text);
  await page.click('#send');
}

async function waitLog(page, cls, text, ms = 5000) {
  try {
    await page.waitForFunction(([c, t]) => Array.from(document.querySelectorAll(`#log .${c}`))
      .some((e) => e.textContent.includes(t)), [cls, text], { timeout: ms });
    return true;
  } catch (e) {
    return false;
  }
}

async function logText(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('#log > *'))
    .map((e) => `${e.className}:${e.textContent}`).join(' | ')).catch((e) => String(e));
}

async function echoCase(ctx) {
  const srv = await L.startServer(rep, WSV, [], 'chromium echo');
  if (!srv) return;
  try {
    const page = await ctx.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    const http = `http://127.0.0.1:${srv.port}/`;
    const resp = await page.goto(http, { timeout: 10000 });
    rep.check('chromium echo: GET / serves the demo page', resp && resp.status() === 200,
      '200', resp ? `${resp.status()} ${await resp.text().catch(() => '')}`.slice(0, 200) : 'no response');
    for (const sel of ['#status', '#input', '#send', '#log']) {
      const n = await page.locator(sel).count();
      rep.check(`chromium echo: page has ${sel}`, n === 1, '1 element', `${n}`);
    }
    if (await statusOpen(page, 'chromium echo')) {
      const msgs = ['hello from chromium', 'ünïcødé ✓ 😀', 'x'.repeat(3000)];
      for (const m of msgs) {
        await sendText(page, m);
        const okIn = await waitLog(page, 'in', m);
        rep.check(`chromium echo: echo of ${m.length}-char message in #log .in`, okIn,
          `an .in entry containing it`, (await logText(page)).slice(0, 300));
        const okOut = await waitLog(page, 'out', m, 1000);
        rep.check(`chromium echo: sent ${m.length}-char message in #log .out`, okOut,
          'an .out entry', (await logText(page)).slice(0, 300));
      }
      const nIn = await page.locator('#log .in').count();
      rep.check('chromium echo: one .in child per message', nIn === msgs.length, msgs.length, nIn);
      // The page says what it shows: URL, HTTP, extensions, subprotocol,
      // a round trip per echoed message (and, below, the close).
      const inf = await page.evaluate(() => {
        const t = (id) => document.getElementById(id).textContent;
        return { url: t('i-url'), http: t('i-http'), ext: t('i-ext'), proto: t('i-proto'),
          rtt: t('i-rtt'), close: t('i-close'),
          rtts: Array.from(document.querySelectorAll('#log .in')).map((li) => li.getAttribute('data-rtt')) };
      });
      rep.check('chromium echo: #i-url is the WebSocket URL', inf.url === `ws://127.0.0.1:${srv.port}/`,
        `ws://127.0.0.1:${srv.port}/`, inf.url);
      rep.check('chromium echo: #i-http names the page\'s protocol and the Upgrade',
        /^page over http\/1\.1; WebSocket over HTTP\/1\.1/.test(inf.http), 'page over http/1.1; WebSocket over HTTP/1.1', inf.http);
      rep.check('chromium echo: #i-ext shows the agreed permessage-deflate', inf.ext.startsWith('permessage-deflate'),
        'permessage-deflate...', inf.ext);
      rep.check('chromium echo: #i-proto says none (none offered)', inf.proto === 'none', 'none', inf.proto);
      rep.check('chromium echo: a round trip beside every echo', inf.rtts.length === msgs.length &&
        inf.rtts.every((r) => r !== null && Number(r) >= 0 && Number(r) < 5000) &&
        new RegExp(`over ${msgs.length}$`).test(inf.rtt), `${msgs.length} data-rtt values, "... over ${msgs.length}"`,
        JSON.stringify([inf.rtts, inf.rtt]));
      rep.check('chromium echo: #i-close empty while open', inf.close === '-', '-', inf.close);
    }
    const shot = path.join(shotDir, 'echo.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`     screenshot: ${shot}`);
    if (consoleLines.some((l) => l.startsWith('error'))) console.log(`     page console: ${consoleLines.join(' / ')}`);
    // SIGTERM while the page is connected: the page sees the close, server exits 0
    const ex = await L.stop(srv);
    rep.check('chromium echo: SIGTERM with a browser connected -> exit 0', ex && ex.code === 0, 'exit 0',
      `${JSON.stringify(ex)} ${srv.text()}`);
    const closed = await page.waitForFunction(() => document.getElementById('i-close').textContent !== '-',
      null, { timeout: 5000 }).then(() => page.evaluate(() => document.getElementById('i-close').textContent))
      .catch(() => '');
    rep.check('chromium echo: #i-close shows the server\'s 1001 "going away" after SIGTERM',
      /^code 1001 .going away., clean$/.test(closed), 'code 1001 "going away", clean', closed);
    const shot2 = path.join(shotDir, 'echo-closed.png');
    await page.screenshot({ path: shot2, fullPage: true });
    console.log(`     screenshot: ${shot2}`);
    await page.close();
  } catch (e) {
    rep.fail('chromium echo: cases', 'no exception', String(e).split('\n')[0]);
  } finally {
    await L.stop(srv);
  }
}

async function chatCase(ctx) {
  const srv = await L.startServer(rep, WSV, ['--chat'], 'chromium chat');
  if (!srv) return;
  try {
    const a = await ctx.newPage();
    const b = await ctx.newPage();
    const http = `http://127.0.0.1:${srv.port}/`;
    await a.goto(http, { timeout: 10000 });
    await b.goto(http, { timeout: 10000 });
    const openA = await statusOpen(a, 'chromium chat page A');
    const openB = await statusOpen(b, 'chromium chat page B');
    if (openA && openB) {
      await sendText(a, 'from A to all');
      rep.check('chromium chat: B sees A\'s message in #log .in', await waitLog(b, 'in', 'from A to all'),
        'an .in entry in B', (await logText(b)).slice(0, 300));
      await sendText(b, 'B answers');
      rep.check('chromium chat: A sees B\'s message in #log .in', await waitLog(a, 'in', 'B answers'),
        'an .in entry in A', (await logText(a)).slice(0, 300));
    }
    for (const [n, p] of [['A', a], ['B', b]]) {
      const shot = path.join(shotDir, `chat-${n}.png`);
      await p.screenshot({ path: shot, fullPage: true });
      console.log(`     screenshot: ${shot}`);
    }
    await a.close();
    await b.close();
  } catch (e) {
    rep.fail('chromium chat: cases', 'no exception', String(e).split('\n')[0]);
  } finally {
    const ex = await L.stop(srv);
    rep.check('chromium chat: SIGTERM -> exit 0', ex && ex.code === 0, 'exit 0', `${JSON.stringify(ex)} ${srv.text()}`);
  }
}

// Deflate on/off x http/https: the demo page through a counting relay, its
// #status "open", and a second WebSocket opened in the page (the page keeps
// its own in a closure) whose .extensions, echoes and close code are read.
// h2ws (https only): WebSockets over HTTP/2 on (the default) or
// --no-h2-websocket.
async function deflateTlsCase(ctx, deflate, tls, h2ws) {
  const args = [];
  if (!deflate) args.push('--no-deflate');
  if (tls) args.push('--cert', PKI.cert, '--key', PKI.key);
  if (tls && !h2ws) args.push('--no-h2-websocket');
  const overH2 = tls && h2ws;
  const tag = `chromium x serve${deflate ? '' : ' --no-deflate'}${tls && !h2ws ? ' --no-h2-websocket' : ''} `
    + `${tls ? (overH2 ? 'https/wss over h2' : 'https/wss over http/1.1') : 'http/ws'}`;
  const srv = await L.startServer(rep, WSV, args, tag);
  if (!srv) return;
  const proxy = await L.countingProxy(srv.port);
  try {
    const page = await ctx.newPage();
    const url = `${tls ? 'https' : 'http'}://localhost:${proxy.port}/`;
    const resp = await page.goto(url, { timeout: 10000 });
    rep.check(`${tag}: GET ${tls ? 'https' : 'http'}:// serves the page`, resp && resp.status() === 200, '200',
      resp ? resp.status() : 'no response');
    if (tls) {
      const sec = await resp.securityDetails();
      rep.check(`${tag}: page over TLS with the test certificate`,
        sec !== null && /^TLS 1\.[23]$/.test(sec.protocol) && sec.subjectName === 'localhost',
        'TLS 1.2/1.3, subject localhost', sec ? `${sec.protocol} ${sec.subjectName}` : 'null');
      const proto = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
      rep.check(`${tag}: the page came over h2 (ALPN)`, proto === 'h2', 'h2', proto);
    }
    await statusOpen(page, tag);
    const r0 = proxy.down;
    const res = await page.evaluate(() => new Promise((resolve) => {
      const u = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
      const ws = new WebSocket(u);
      ws.binaryType = 'arraybuffer';
      const out = { url: u };
      const big = 'chromium compresses this. '.repeat(40330); // ~1 MiB
      const rnd = new Uint8Array(256 * 1024);
      for (let i = 0; i < rnd.length; i += 65536) crypto.getRandomValues(rnd.subarray(i, i + 65536));
      let step = 0;
      ws.onopen = () => { out.extensions = ws.extensions; ws.send(big); };
      ws.onmessage = (ev) => {
        if (step === 0) {
          out.bigOk = ev.data === big;
          out.bigLen = big.length;
          step = 1;
          ws.send(rnd);
        } else if (step === 1) {
          const a = new Uint8Array(ev.data);
          out.rndOk = a.length === rnd.length && a.every((v, i) => v === rnd[i]);
          step = 2;
          ws.close(4000, 'from the page');
        }
      };
      ws.onclose = (ev) => { out.closeCode = ev.code; resolve(out); };
      ws.onerror = () => { out.error = true; };
      setTimeout(() => resolve({ ...out, timeout: true }), 15000);
    }));
    const down = proxy.down - r0;
    // Chromium offers client_max_window_bits: serve's default (on) holds it to 13 bits.
    const want = deflate ? 'permessage-deflate; client_max_window_bits=13' : '';
    rep.check(`${tag}: WebSocket.extensions in the page`, res.extensions === want && res.url.startsWith(tls ? 'wss://' : 'ws://'),
      `${JSON.stringify(want)} over ${tls ? 'wss' : 'ws'}://`, JSON.stringify(res));
    rep.check(`${tag}: ~1 MiB text echoed`, res.bigOk === true, 'the same text', JSON.stringify(res));
    rep.check(`${tag}: 256 KiB random binary echoed`, res.rndOk === true, 'the same bytes', JSON.stringify(res));
    rep.check(`${tag}: close 4000 from the page echoed`, res.closeCode === 4000, 4000, res.closeCode);
    if (deflate) {
      rep.check(`${tag}: server -> browser bytes show compression`, down < 256 * 1024 + 100000,
        `< ${256 * 1024 + 100000} B for ~1 MiB text + 256 KiB random`, down);
    } else {
      rep.check(`${tag}: server -> browser bytes uncompressed`, down >= (1 << 20) + 256 * 1024,
        `>= ${(1 << 20) + 256 * 1024} B`, down);
    }
    // Which HTTP the page's two WebSockets came over, by the server's log.
    await L.waitOutput(srv, (o, e) => (e.match(/ #\d+ open /g) || []).length >= 2, 3000);
    const opens = srv.err.split('\n').filter((l) => / #\d+ open /.test(l));
    rep.check(`${tag}: both WebSockets ${overH2 ? 'over HTTP/2' : 'over HTTP/1.1'} (server log)`,
      opens.length === 2 && opens.every((l) => l.endsWith(' over HTTP/2') === overH2),
      `2 "#N open" lines${overH2 ? ' ending "over HTTP/2"' : ' without "over HTTP/2"'}`, JSON.stringify(opens));
    await page.close();
  } catch (e) {
    rep.fail(`${tag}: cases`, 'no exception', String(e).split('\n')[0]);
  } finally {
    await proxy.shut();
    const ex = await L.stop(srv);
    rep.check(`${tag}: SIGTERM -> exit 0`, ex && ex.code === 0, 'exit 0', `${JSON.stringify(ex)} ${srv.text()}`);
  }
}

// ---- Origin checks (cross-site WebSocket hijacking) ----------------------
// A page served from http://127.0.0.1:A/ opens ws://127.0.0.1:B/ on
// `wsv serve --exec cat`: the browser sends Origin http://127.0.0.1:A, which
// is not the server's own, so the handshake gets 403 and the page sees an
// error and close 1006.  With --origin http://127.0.0.1:A the echo works;
// the exec server's own demo page (same origin) works by default.
async function originCase(ctx) {
  const http = require('http');
  const foreign = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>another site</title><p>another site</p>');
  });
  await new Promise((r) => foreign.listen(0, '127.0.0.1', r));
  const A = foreign.address().port;
  const pageOrigin = `http://127.0.0.1:${A}`;
  // Open a WebSocket from the page, send one message, report what happened.
  const tryWs = (page, url) => page.evaluate((u) => new Promise((resolve) => {
    const out = { url: u, opened: false, echo: null, error: false };
    const ws = new WebSocket(u);
    ws.onopen = () => { out.opened = true; ws.send('from another origin'); };
    ws.onmessage = (ev) => { out.echo = ev.data; ws.close(1000); };
    ws.onerror = () => { out.error = true; };
    ws.onclose = (ev) => { out.closeCode = ev.code; resolve(out); };
    setTimeout(() => resolve({ ...out, timeout: true }), 8000);
  }), url);
  let refused = null;
  let allowed = null;
  try {
    refused = await L.startServer(rep, WSV, ['--exec', 'cat'], 'chromium origin');
    if (!refused) return;
    const page = await ctx.newPage();
    await page.goto(`${pageOrigin}/`, { timeout: 10000 });
    const r1 = await tryWs(page, `ws://127.0.0.1:${refused.port}/`);
    rep.check('chromium origin: a page from another origin cannot open --exec (refused, close 1006)',
      !r1.opened && r1.error && r1.closeCode === 1006 && r1.echo === null,
      'no open, an error, close 1006', JSON.stringify(r1));
    const logged = await L.waitOutput(refused, (o, e) => e.includes(`403 for Origin ${pageOrigin} (Host 127.0.0.1:${refused.port})`), 3000);
    rep.check('chromium origin: the server logged the 403 with the page\'s Origin', !!logged,
      `"403 for Origin ${pageOrigin}" on stderr`, refused.text());
    allowed = await L.startServer(rep, WSV, ['--exec', 'cat', '--origin', pageOrigin], 'chromium origin');
    if (!allowed) return;
    const r2 = await tryWs(page, `ws://127.0.0.1:${allowed.port}/`);
    rep.check(`chromium origin: with --origin ${pageOrigin} the same page gets its echo`,
      r2.opened && r2.echo === 'from another origin' && r2.closeCode === 1000,
      'open, the echo, close 1000', JSON.stringify(r2));
    await page.close();
    // The exec server's own page: same origin, allowed by default.
    const own = await ctx.newPage();
    await own.goto(`http://127.0.0.1:${refused.port}/`, { timeout: 10000 });
    if (await statusOpen(own, 'chromium origin: the --exec server\'s own page')) {
      await sendText(own, 'same origin line');
      rep.check('chromium origin: the --exec server\'s own page gets the program\'s answer',
        await waitLog(own, 'in', 'same origin line'), 'an .in entry', (await logText(own)).slice(0, 300));
    }
    const shot = path.join(shotDir, 'origin-own-page.png');
    await own.screenshot({ path: shot, fullPage: true });
    console.log(`     screenshot: ${shot}`);
    await own.close();
  } catch (e) {
    rep.fail('chromium origin: cases', 'no exception', String(e).split('\n')[0]);
  } finally {
    for (const srv of [refused, allowed]) {
      if (!srv) continue;
      const ex = await L.stop(srv);
      rep.check('chromium origin: SIGTERM -> exit 0', ex && ex.code === 0, 'exit 0', `${JSON.stringify(ex)} ${srv.text()}`);
    }
    if (foreign.closeAllConnections) foreign.closeAllConnections();
    await new Promise((r) => foreign.close(() => r()));
  }
}

(async () => {
  let ctx;
  try {
    ctx = await launch();
  } catch (e) {
    rep.fail('chromium: launch', `${CHROMIUM} starts headless`, String(e).split('\n').slice(0, 3).join(' '));
    rep.finish();
  }
  try {
    await L.withTimeout(echoCase(ctx), 60000, 'echo case');
    await L.withTimeout(chatCase(ctx), 60000, 'chat case');
    await L.withTimeout(originCase(ctx), 60000, 'origin case');
    if (PKI) {
      for (const [tls, h2ws] of [[false, false], [true, true], [true, false]]) {
        for (const d of [true, false]) {
          await L.withTimeout(deflateTlsCase(ctx, d, tls, h2ws), 40000, 'deflate x tls case');
        }
      }
    }
  } catch (e) {
    rep.fail('chromium: cases', 'no exception', String(e));
  }
  await shutdown(ctx);
  console.log(`     screenshots in ${shotDir}`);
  rep.finish();
})();
