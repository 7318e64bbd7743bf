// ws_chat.js PORT (0: any free port, printed) - a Node `ws` broadcast server for bench/run's fan-out
// rows, with the semantics of `wsv serve --chat` that `wsv bench fanout`
// expects: every connection subscribes to its path (the request URL);
// each message it sends goes, as it came (same type), to every
// connection on that path, the sender too (as wsv serve --chat publishes
// with WSV_PUBLISH_SELF).  permessage-deflate off
// (as for every peer).  Each send frames the message again (ws has no
// public "frame once, send to many"), as an ordinary Node chat server
// does.  Stops on SIGINT or SIGTERM.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8080);
const topics = new Map(); // path -> Set of sockets
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
});
wss.on('connection', (ws, req) => {
  const path = req.url;
  let subs = topics.get(path);
  if (subs === undefined) {
    subs = new Set();
    topics.set(path, subs);
  }
  subs.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const peer of subs) {
      if (peer.readyState === 1) peer.send(data, { binary: isBinary });
    }
  });
  ws.on('close', () => {
    subs.delete(ws);
    if (subs.size === 0) topics.delete(path);
  });
});
wss.on('listening', () => console.log(`ws_chat: listening on 127.0.0.1:${wss.address().port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
