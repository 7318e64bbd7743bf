'use strict';
// A small RFC 6455 frame encoder and decoder for the HTTP/2 drivers
// (h2_broken.js's echo mode, h2_node.js): whole frames only, FIN set on
// what we send, masking for a client, no extensions.

const crypto = require('crypto');

// encode(opcode, payload, mask) -> Buffer: one FIN frame, masked when
// `mask` (a client's frames, RFC 6455 §5.3).
function encode(opcode, payload, mask) {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  const key = crypto.randomBytes(4);
  key.copy(head, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, body]);
}

// A decoder: push(bytes) returns the whole frames now available as
// {fin, rsv, opcode, masked, payload} (unmasked), or throws on a length
// over 16 MiB.
class Decoder {
  constructor() { this.buf = Buffer.alloc(0); }
  push(data) {
    this.buf = Buffer.concat([this.buf, data]);
    const out = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) break; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) {
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > 16n << 20n) throw new Error('frame over 16 MiB');
        len = Number(big); off = 10;
      }
      const keyOff = off;
      if (masked) off += 4;
      if (b.length < off + len) break;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[keyOff + (i & 3)];
      out.push({ fin: (b[0] & 0x80) !== 0, rsv: (b[0] >> 4) & 7, opcode: b[0] & 15, masked, payload });
      this.buf = b.subarray(off + len);
    }
    return out;
  }
}

module.exports = { encode, Decoder };
