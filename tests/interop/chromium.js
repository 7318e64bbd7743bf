'use strict';
// Headless Chromium (Debian chromium, /usr/bin/chromium) driven by
// playwright-core, loading the demo page of `wsv serve`.
//
//   echo : #status reads "open", type into #input, click #send, the echo
//          appears in #log .in (and the sent message in #log .out)
//   chat : `wsv serve --chat`, two pages on the same path see each other's
//          messages
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

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const shotDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsv-interop-shots-'));

async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsv-interop-chromium-'));
  const ctx = await pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30000,
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
    }
    const shot = path.join(shotDir, 'echo.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`     screenshot: ${shot}`);
    if (consoleLines.some((l) => l.startsWith('error'))) console.log(`     page console: ${consoleLines.join(' / ')}`);
    // SIGTERM while the page is connected: the page sees the close, server exits 0
    const ex = await L.stop(srv);
    rep.check('chromium echo: SIGTERM with a browser connected -> exit 0', ex && ex.code === 0, 'exit 0',
      `${JSON.stringify(ex)} ${srv.text()}`);
    const closed = await page.evaluate(() => document.querySelector('#status').textContent).catch(() => '');
    console.log(`     #status after SIGTERM: ${JSON.stringify(closed)}`);
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
  } catch (e) {
    rep.fail('chromium: cases', 'no exception', String(e));
  }
  await shutdown(ctx);
  console.log(`     screenshots in ${shotDir}`);
  rep.finish();
})();
