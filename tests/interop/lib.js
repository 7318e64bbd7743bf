'use strict';
// Shared helpers for the Node drivers: child processes ended by PID, the
// `wsv serve` startup line, and a case report (expected vs got).

const { spawn } = require('child_process');

const PORT_RE = /(wss?):\/\/(?:\[[0-9a-fA-F:.]+\]|[^:/\s[]+):(\d+)\//;
const children = new Set();

function reapAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try { c.kill('SIGKILL'); } catch (e) { /* gone */ }
    }
  }
}
process.on('exit', reapAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { reapAll(); process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); });
}

function childEnv() {
  const env = { ...process.env };
  let a = env.ASAN_OPTIONS || 'detect_leaks=1';
  if (!a.includes('quarantine_size_mb')) a += ':quarantine_size_mb=16';
  env.ASAN_OPTIONS = a;
  return env;
}

// A child with stdout/stderr collected; .exited is a promise of
// {code, signal}.
function run(argv, opts = {}) {
  const c = spawn(argv[0], argv.slice(1), {
    stdio: [opts.stdin || 'pipe', 'pipe', 'pipe'], env: childEnv(),
  });
  children.add(c);
  c.out = '';
  c.err = '';
  c.stdout.on('data', (d) => { c.out += d.toString('latin1'); c.emit('output'); });
  c.stderr.on('data', (d) => { c.err += d.toString('latin1'); c.emit('output'); });
  c.exited = new Promise((resolve) => {
    c.on('exit', (code, signal) => resolve({ code, signal }));
  });
  c.on('error', (e) => { c.err += `spawn error: ${e.message}`; c.emit('output'); });
  c.text = () => `stdout=${JSON.stringify(c.out.slice(0, 400))} stderr=${JSON.stringify(c.err.slice(0, 600))}`;
  return c;
}

function waitOutput(c, pred, ms) {
  return new Promise((resolve) => {
    let done = false;
    const check = () => {
      if (done) return;
      const v = pred(c.out, c.err);
      if (v) { done = true; clearTimeout(t); c.off('output', check); resolve(v); }
    };
    const t = setTimeout(() => { done = true; c.off('output', check); resolve(pred(c.out, c.err) || null); }, ms);
    c.on('output', check);
    c.exited.then(() => setTimeout(check, 50));
    check();
  });
}

function waitExit(c, ms) {
  return Promise.race([c.exited, sleep(ms).then(() => null)]);
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

async function startServer(rep, wsv, args, label) {
  const c = run([wsv, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { stdin: 'ignore' });
  const m = await waitOutput(c, (o, e) => PORT_RE.exec(o) || PORT_RE.exec(e), 10000);
  if (!m) {
    const ex = await stop(c);
    rep.fail(`${label}: wsv serve ${args.join(' ')} starts`,
      'a startup line containing ws://127.0.0.1:<port>/ within 10 s', `exit=${JSON.stringify(ex)} ${c.text()}`);
    return null;
  }
  c.port = Number(m[2]);
  c.scheme = m[1];
  c.url = `${m[1]}://127.0.0.1:${c.port}/`;
  // The same server by name: Host, SNI and the certificate check say
  // localhost; connect with { lookup: lookupLoopback } so that the socket
  // goes to 127.0.0.1 whatever localhost resolves to.
  c.hostUrl = `${m[1]}://localhost:${c.port}/`;
  return c;
}

// A net/tls `lookup` that maps localhost to 127.0.0.1 (other names go to
// dns.lookup).  The servers under test listen on 127.0.0.1 only, and with
// Debian's /etc/hosts localhost is also ::1, which Node 18 tries alone (it
// has no autoSelectFamily by default): ECONNREFUSED.
function lookupLoopback(host, opts, cb) {
  if (typeof opts === 'function') { cb = opts; opts = {}; }
  if (host !== 'localhost') return require('dns').lookup(host, opts, cb);
  if (opts && opts.all) return cb(null, [{ address: '127.0.0.1', family: 4 }]);
  return cb(null, '127.0.0.1', 4);
}

// SIGTERM, then SIGKILL after 6 s; resolves to {code, signal} or null.
async function stop(c) {
  if (c.exitCode !== null || c.signalCode !== null) return { code: c.exitCode, signal: c.signalCode };
  c.kill('SIGTERM');
  const r = await waitExit(c, 6000);
  if (!r) { c.kill('SIGKILL'); await waitExit(c, 3000); }
  return r;
}

class Report {
  constructor(name) { this.name = name; this.failed = []; this.passed = 0; this.t0 = Date.now(); }
  check(name, ok, expected = '', got = '') {
    if (ok) { this.passed++; console.log(`ok   ${name}`); return true; }
    this.failed.push([name, expected, got]);
    console.log(`FAIL ${name}\n     expected: ${expected}\n     got:      ${got}`);
    return false;
  }
  fail(name, expected, got) { return this.check(name, false, expected, got); }
  finish() {
    console.log(`\n${this.name}: ${this.passed} passed, ${this.failed.length} failed (${((Date.now() - this.t0) / 1000).toFixed(1)} s)`);
    for (const [n, e, g] of this.failed) console.log(`  FAILED ${n}: expected ${e}; got ${g}`);
    reapAll();
    process.exit(this.failed.length ? 1 : 0);
  }
}

function requireModule(rep, name) {
  try {
    return require(name);
  } catch (e) {
    rep.fail(`peer: npm module ${name}`, `${name} in tests/interop/node_modules`,
      `missing (run tests/interop/setup.sh): ${e.message.split('\n')[0]}`);
    return null;
  }
}

// A CA and a server certificate for localhost and 127.0.0.1, made with the
// openssl command in a fresh temporary directory (removed at exit).
// Returns {dir, ca, cert, key} (paths) or null after reporting the failure.
function makePki(rep) {
  const fs = require('fs');
  const os = require('os');
  const path = require('path');
  const { execFileSync } = require('child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsv-interop-pki-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const ossl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
  try {
    ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
      '-subj', '/CN=wsv interop test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    fs.writeFileSync(path.join(dir, 'srv.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n'
      + 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=localhost');
    ossl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', 'srv.pem', '-days', '2', '-extfile', 'srv.ext');
  } catch (e) {
    rep.fail('make a CA and a server certificate with openssl', 'openssl req/x509 succeed',
      `${e.message.split('\n')[0]} ${e.stderr ? e.stderr.toString().slice(-300) : ''}`);
    return null;
  }
  return { dir, ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'srv.pem'), key: path.join(dir, 'srv.key') };
}

// A loopback TCP relay counting bytes each way ({up, down}); .port, .close().
function countingProxy(targetPort) {
  const net = require('net');
  return new Promise((resolve) => {
    const socks = new Set();
    const srv = net.createServer((c) => {
      const u = net.connect(targetPort, '127.0.0.1');
      socks.add(c); socks.add(u);
      c.on('data', (d) => { srv.up += d.length; });
      u.on('data', (d) => { srv.down += d.length; });
      c.pipe(u); u.pipe(c);
      const end = () => { c.destroy(); u.destroy(); };
      c.on('error', end); u.on('error', end); c.on('close', end); u.on('close', end);
    });
    srv.up = 0;
    srv.down = 0;
    srv.shut = () => { for (const s of socks) s.destroy(); return new Promise((r) => srv.close(() => r())); };
    srv.listen(0, '127.0.0.1', () => { srv.port = srv.address().port; resolve(srv); });
  });
}

module.exports = { lookupLoopback, makePki, countingProxy, run, waitOutput, waitExit, sleep, withTimeout, startServer, stop, Report, requireModule, PORT_RE };
