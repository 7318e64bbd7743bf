// ws_echo.js PORT [--deflate] - a Node `ws` echo server for bench/run:
// every message goes back as it came (same type), permessage-deflate off
// (as for every peer) unless --deflate (perMessageDeflate: true, ws's own
// defaults, for bench/deflate.py), no per-message work beyond the echo.
// Stops on SIGINT or SIGTERM.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8080);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: process.argv.includes('--deflate'),
  maxPayload: 64 * 1024 * 1024,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.log(`ws_echo: listening on 127.0.0.1:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
