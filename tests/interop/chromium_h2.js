'use strict';
// Headless Chromium (Debian chromium, /usr/bin/chromium) driven by
// playwright-core, loading the demo page of `wsv serve --cert --key` over
// https:// and opening WebSockets from it (issue 12, RFC 8441).
//
//   h2 (default)       : the page comes over h2 (the page's own
//                        performance navigation entry says nextHopProtocol
//                        "h2"); its WebSocket and a second one opened in the
//                        page ride the page's HTTP/2 connection: the server
//                        logs "over HTTP/2" for both, from one peer address
//                        (one TCP connection), as streams after the page's
//                        own request; text and 64 KiB of random bytes echo,
//                        permessage-deflate agreed; the page's HTTP row
//                        says so (the server's X-Wsv-WebSocket-Http2: 1)
//   --no-h2-websocket  : the page still comes over h2, but the WebSockets
//                        use HTTP/1.1 (no "over HTTP/2" in the log) and
//                        still echo; the page says HTTP/1.1
//   --no-http2         : the page comes over http/1.1, the WebSockets too
//
// The test CA is made at run time and Chromium is made to trust it: an NSS
// database (certutil, Debian's libnss3-tools) in a temporary HOME, which is
// where Chromium on Linux looks for it.  Certificate errors are not
// ignored, so the page load and the wss:// sockets are checked as a browser
// checks any site, and connection reuse is what it is for a trusted site.
// Screenshots go to the chromium-shots folder of the test's output folder.
//
// usage: node chromium_h2.js WSV

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const L = require('./lib');

const rep = new L.Report('interop chromium h2');
const WSV = process.argv[2];
if (!WSV) { console.log('usage: node chromium_h2.js WSV'); process.exit(2); }
const CHROMIUM = process.env.WSV_CHROMIUM || '/usr/bin/chromium';
const pw = L.requireModule(rep, 'playwright-core');
if (!fs.existsSync(CHROMIUM)) {
  rep.fail('peer: chromium', `${CHROMIUM} (Debian chromium)`, 'missing (run tests/interop/setup.sh as root)');
}
if (!pw || rep.failed.length) rep.finish();
const PKI = L.makePki(rep);
if (!PKI) rep.finish();

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // https://localhost pages go to 127.0.0.1, where the servers listen
  '--host-resolver-rules=MAP localhost 127.0.0.1'];

const shotDir = path.join(process.cwd(), 'chromium-shots');
fs.mkdirSync(shotDir, { recursive: true });

// A HOME whose NSS database trusts the test CA for servers.
function trustingHome() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'wsv-interop-chromium-home-'));
  process.on('exit', () => fs.rmSync(home, { recursive: true, force: true }));
  const db = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  try {
    const cu = (...a) => execFileSync('certutil', a, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
    cu('-N', '-d', `sql:${db}`, '--empty-password');
    cu('-A', '-d', `sql:${db}`, '-n', 'wsv interop test CA', '-t', 'C,,', '-i', PKI.ca);
    const list = cu('-L', '-d', `sql:${db}`).toString();
    rep.check('NSS database in a temporary HOME trusts the test CA', /wsv interop test CA\s+C,,/.test(list),
      '"wsv interop test CA  C,," in certutil -L', list.trim());
  } catch (e) {
    rep.fail('certutil (libnss3-tools) makes an NSS database trusting the test CA', 'certutil -N/-A succeed',
      `${e.message.split('\n')[0]} ${e.stderr ? e.stderr.toString().slice(-300) : ''}`);
    return null;
  }
  return home;
}

async function launch(home) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsv-interop-chromium-'));
  const ctx = await pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30000,
    env: { ...process.env, HOME: home },
  });
  ctx.userDataDir = userDataDir;
  return ctx;
}

async function shutdown(ctx) {
  try { await L.withTimeout(ctx.close(), 10000, 'browser close'); } catch (e) { /* killed by pw */ }
  fs.rmSync(ctx.userDataDir, { recursive: true, force: true });
}

const HTTP_TEXT = {
  on: 'page over h2; WebSocket over this HTTP/2 connection (RFC 8441, offered by the server; '
    + 'a browser without it uses HTTP/1.1)',
  nows: 'page over h2; WebSocket over HTTP/1.1 (Upgrade): the server takes none over HTTP/2',
  off: 'page over http/1.1; WebSocket over HTTP/1.1 (Upgrade)',
};

// In the page: a WebSocket to the page's own origin; one text message, then
// 64 KiB of random bytes, both checked on return; close 1000.
function pageEcho(page) {
  return page.evaluate(() => new Promise((resolve) => {
    const u = `wss://${location.host}/`;
    const ws = new WebSocket(u);
    ws.binaryType = 'arraybuffer';
    const out = { url: u };
    const text = 'over HTTP/2? \u2713 \ud83d\ude00';
    const rnd = new Uint8Array(64 * 1024);
    crypto.getRandomValues(rnd);
    let step = 0;
    ws.onopen = () => { out.extensions = ws.extensions; ws.send(text); };
    ws.onmessage = (ev) => {
      if (step === 0) {
        out.textOk = ev.data === text;
        step = 1;
        ws.send(rnd);
      } else if (step === 1) {
        const a = new Uint8Array(ev.data);
        out.rndLen = a.length;
        out.rndOk = a.length === rnd.length && a.every((v, i) => v === rnd[i]);
        step = 2;
        ws.close(1000, 'done');
      }
    };
    ws.onclose = (ev) => { out.closeCode = ev.code; resolve(out); };
    ws.onerror = () => { out.error = true; };
    setTimeout(() => resolve({ ...out, timeout: true }), 15000);
  }));
}

// mode: 'on' (default serve), 'nows' (--no-h2-websocket), 'off' (--no-http2)
async function h2Case(ctx, mode) {
  const flag = { on: [], nows: ['--no-h2-websocket'], off: ['--no-http2'] }[mode];
  const tag = `chromium h2: serve --cert --key${flag.length ? ` ${flag[0]}` : ''}`;
  const srv = await L.startServer(rep, WSV, ['-v', '--cert', PKI.cert, '--key', PKI.key, ...flag], tag);
  if (!srv) return;
  try {
    const page = await ctx.newPage();
    const url = `https://localhost:${srv.port}/`;
    const resp = await page.goto(url, { timeout: 10000 });
    rep.check(`${tag}: GET ${url} serves the page`, resp && resp.status() === 200, '200',
      resp ? resp.status() : 'no response');
    const sec = resp ? await resp.securityDetails() : null;
    rep.check(`${tag}: TLS verified against the test CA (trusted, no errors ignored)`,
      sec !== null && sec.issuer === 'wsv interop test CA' && sec.subjectName === 'localhost',
      'issuer "wsv interop test CA", subject localhost', JSON.stringify(sec));
    const hdr = resp ? resp.headers()['x-wsv-websocket-http2'] : undefined;
    const wantHdr = mode === 'on' ? '1' : '0';
    rep.check(`${tag}: the page's x-wsv-websocket-http2 header`, hdr === wantHdr, wantHdr, String(hdr));
    const proto = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
    const wantProto = mode === 'off' ? 'http/1.1' : 'h2';
    console.log(`     page's performance.getEntriesByType('navigation')[0].nextHopProtocol: ${proto}`);
    rep.check(`${tag}: the page's nextHopProtocol`, proto === wantProto, wantProto, proto);
    let open = false;
    try {
      await page.waitForFunction(() => document.getElementById('status').textContent === 'open', null,
        { timeout: 10000 });
      open = true;
    } catch (e) { /* reported below */ }
    rep.check(`${tag}: #status reads "open"`, open, 'open within 10 s',
      await page.evaluate(() => document.getElementById('status').textContent).catch(String));
    let httpText = '';
    try {
      await page.waitForFunction((want) => document.getElementById('i-http').textContent === want,
        HTTP_TEXT[mode], { timeout: 5000 });
    } catch (e) { /* reported below */ }
    httpText = await page.evaluate(() => document.getElementById('i-http').textContent).catch(String);
    rep.check(`${tag}: #i-http says how the page and its WebSocket came`, httpText === HTTP_TEXT[mode],
      HTTP_TEXT[mode], httpText);
    if (open) {
      await page.fill('#input', `typed over ${mode}`);
      await page.click('#send');
      let echoed = false;
      try {
        await page.waitForFunction((t) => Array.from(document.querySelectorAll('#log .in'))
          .some((e) => e.textContent.includes(t)), `typed over ${mode}`, { timeout: 5000 });
        echoed = true;
      } catch (e) { /* reported below */ }
      rep.check(`${tag}: the page's own WebSocket echoes what is typed`, echoed, 'an .in entry',
        await page.evaluate(() => document.getElementById('log').textContent).catch(String));
    }
    const res = await pageEcho(page);
    rep.check(`${tag}: a second WebSocket in the page agrees permessage-deflate`,
      typeof res.extensions === 'string' && res.extensions.startsWith('permessage-deflate'),
      'permessage-deflate...', JSON.stringify(res));
    rep.check(`${tag}: text echoed`, res.textOk === true, 'the same text', JSON.stringify(res));
    rep.check(`${tag}: 64 KiB random binary echoed`, res.rndOk === true, 'the same 65536 bytes', JSON.stringify(res));
    rep.check(`${tag}: close 1000 from the page`, res.closeCode === 1000, 1000, res.closeCode);
    const shot = path.join(shotDir, `h2-${mode}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`     screenshot: ${shot}`);

    // The server's side: which HTTP each WebSocket came over.
    await L.waitOutput(srv, (o, e) => (e.match(/#\d+ open /g) || []).length >= 2, 3000);
    const opens = srv.err.split('\n').filter((l) => / #\d+ open /.test(l));
    const h2lines = srv.err.split('\n').filter((l) => /: WebSocket over HTTP\/2 \(stream \d+\) on \//.test(l));
    for (const l of opens.concat(h2lines)) console.log(`     server: ${l}`);
    if (mode === 'on') {
      rep.check(`${tag}: both WebSockets logged "over HTTP/2"`,
        opens.length === 2 && opens.every((l) => /version 13 over HTTP\/2$/.test(l)),
        '2 "#N open ... version 13 over HTTP/2" lines', JSON.stringify(opens));
      const st = h2lines.map((l) => /: (\S+): WebSocket over HTTP\/2 \(stream (\d+)\)/.exec(l))
        .filter((m) => m).map((m) => ({ peer: m[1], stream: Number(m[2]) }));
      rep.check(`${tag}: both on one HTTP/2 connection (one peer address, two streams), after the page's request`,
        st.length === 2 && st[0].peer === st[1].peer && st[0].stream !== st[1].stream
          && st.every((s) => s.stream >= 3 && s.stream % 2 === 1),
        'two streams >= 3 (stream 1 was the page) from the same PEER', JSON.stringify(st));
      const openPeers = opens.map((l) => / open (\S+) \//.exec(l)).filter((m) => m).map((m) => m[1]);
      rep.check(`${tag}: the open lines name that peer`, st.length > 0 && openPeers.length === 2
        && openPeers.every((p) => p === st[0].peer), st.length ? st[0].peer : '?', JSON.stringify(openPeers));
      rep.check(`${tag}: the page asked for its headers (HEAD / over h2)`, srv.err.includes('wsv: http HEAD / 200'),
        '"wsv: http HEAD / 200"', srv.text());
    } else {
      rep.check(`${tag}: both WebSockets over HTTP/1.1 (no "over HTTP/2" in the log)`,
        opens.length === 2 && opens.every((l) => /version 13$/.test(l)) && h2lines.length === 0
          && !srv.err.includes('over HTTP/2'),
        '2 "#N open ... version 13" lines, no "over HTTP/2"', JSON.stringify(opens.concat(h2lines)));
      if (mode === 'off') {
        rep.check(`${tag}: no HEAD from a page over http/1.1`, !srv.err.includes('http HEAD'),
          'no "http HEAD" line', srv.text());
      }
    }
    await page.close();
  } catch (e) {
    rep.fail(`${tag}: cases`, 'no exception', String(e).split('\n')[0]);
  } finally {
    const ex = await L.stop(srv);
    rep.check(`${tag}: SIGTERM -> exit 0`, ex && ex.code === 0, 'exit 0', `${JSON.stringify(ex)} ${srv.text()}`);
  }
}

(async () => {
  const home = trustingHome();
  if (!home) rep.finish();
  let ctx;
  try {
    ctx = await launch(home);
  } catch (e) {
    rep.fail('chromium: launch', `${CHROMIUM} starts headless`, String(e).split('\n').slice(0, 3).join(' '));
    rep.finish();
  }
  try {
    for (const mode of ['on', 'nows', 'off']) await L.withTimeout(h2Case(ctx, mode), 45000, `h2 case ${mode}`);
  } catch (e) {
    rep.fail('chromium h2: cases', 'no exception', String(e));
  }
  await shutdown(ctx);
  console.log(`     screenshots in ${shotDir}`);
  rep.finish();
})();
