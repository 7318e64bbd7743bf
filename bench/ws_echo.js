// ws_echo.js PORT [--deflate] [--tls CERT KEY] - a Node `ws` echo server
// for bench/run: every message goes back as it came (same type),
// permessage-deflate off (as for every peer) unless --deflate
// (perMessageDeflate: true, ws's own defaults, for bench/deflate.py), no
// per-message work beyond the echo.  --tls serves wss:// through
// https.createServer with the PEM certificate chain and key files.
// Stops on SIGINT or SIGTERM.
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8080);
const tls = process.argv.indexOf('--tls');
const opts = {
  perMessageDeflate: process.argv.includes('--deflate'),
  maxPayload: 64 * 1024 * 1024,
};
let wss;
let server;
const listening = () => {
  const bound = (tls > 0 ? server : wss).address().port; // port 0: the kernel's pick
  console.log(`ws_echo: listening on 127.0.0.1:${bound}${tls > 0 ? ' (TLS)' : ''}`);
};
if (tls > 0) {
  server = https.createServer({
    cert: fs.readFileSync(process.argv[tls + 1]),
    key: fs.readFileSync(process.argv[tls + 2]),
  });
  wss = new WebSocketServer({ ...opts, server });
  server.listen(port, '127.0.0.1', listening);
} else {
  wss = new WebSocketServer({ ...opts, host: '127.0.0.1', port });
  wss.on('listening', listening);
}
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
