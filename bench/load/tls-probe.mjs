// A TCP relay that reads the plaintext start of every TLS handshake through it (tls.mjs, issue #11):
// how many connections a client opened, with which protocol, and how many of them resumed a
// session instead of doing a full handshake. It checks what a load tool really does (does
// `wrk -H 'Connection: close'` open a new connection per request? does it resume?) without
// touching either server's configuration. Only for short check runs: it costs CPU of its own.
import net from 'node:net';

/**
 * parseHandshake reads handshake messages from the plaintext TLS records at the start of `buf`
 * (a connection's first bytes in one direction), stopping at the first non-handshake record.
 * Returns [{ type, body }] for the messages wholly present.
 */
function handshakeMessages(buf) {
  const hs = [];
  let off = 0;
  while (off + 5 <= buf.length && buf[off] === 22) {
    const len = buf.readUInt16BE(off + 3);
    if (off + 5 + len > buf.length) break;
    hs.push(buf.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  const data = Buffer.concat(hs);
  const msgs = [];
  for (let p = 0; p + 4 <= data.length; ) {
    const len = data.readUIntBE(p + 1, 3);
    if (p + 4 + len > data.length) break;
    msgs.push({ type: data[p], body: data.subarray(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return { msgs, nextRecordType: off < buf.length ? buf[off] : null };
}

/** helloFields reads session_id and the extensions of a ClientHello (type 1) or ServerHello (type 2) body. */
function helloFields(type, body) {
  let p = 2 + 32; // legacy_version, random
  const sidLen = body[p];
  const sessionId = body.subarray(p + 1, p + 1 + sidLen).toString('hex');
  p += 1 + sidLen;
  if (type === 1) {
    p += 2 + body.readUInt16BE(p); // cipher_suites
    p += 1 + body[p]; // compression_methods
  } else {
    p += 2 + 1; // cipher_suite, compression_method
  }
  const ext = new Map();
  if (p + 2 <= body.length) {
    const end = p + 2 + body.readUInt16BE(p);
    for (p += 2; p + 4 <= end; ) {
      const t = body.readUInt16BE(p);
      const l = body.readUInt16BE(p + 2);
      ext.set(t, body.subarray(p + 4, p + 4 + l));
      p += 4 + l;
    }
  }
  return { sessionId, ext };
}

const EXT_SESSION_TICKET = 35;
const EXT_PRE_SHARED_KEY = 41;
const EXT_SUPPORTED_VERSIONS = 43;

/** classify decides one connection's protocol and whether it resumed, from both directions' first bytes. */
function classify(clientBytes, serverBytes) {
  const ch = handshakeMessages(clientBytes).msgs.find((m) => m.type === 1);
  const { msgs, nextRecordType } = handshakeMessages(serverBytes);
  const sh = msgs.find((m) => m.type === 2);
  if (!ch || !sh) return { protocol: 'unknown', resumed: false, offered: false };
  const c = helloFields(1, ch.body);
  const s = helloFields(2, sh.body);
  const sv = s.ext.get(EXT_SUPPORTED_VERSIONS);
  const tls13 = sv !== undefined && sv.readUInt16BE(0) === 0x0304;
  const offered = c.ext.has(EXT_PRE_SHARED_KEY) || (c.ext.get(EXT_SESSION_TICKET)?.length ?? 0) > 0 || (!tls13 && c.sessionId.length > 0);
  if (tls13) return { protocol: 'TLSv1.3', resumed: s.ext.has(EXT_PRE_SHARED_KEY), offered };
  // TLS 1.2: a full handshake sends the Certificate (type 11) right after the ServerHello; a
  // resumed one (session ID or ticket) goes straight to ChangeCipherSpec (record type 20).
  if (msgs.some((m) => m.type === 11)) return { protocol: 'TLSv1.2', resumed: false, offered };
  if (nextRecordType === 20) return { protocol: 'TLSv1.2', resumed: true, offered };
  return { protocol: 'unknown', resumed: false, offered };
}

/**
 * TlsProbe relays 127.0.0.1:<port> to 127.0.0.1:<target> and counts connections by protocol and
 * resumption. `start()` resolves the bound port; `stats()` returns the counts; `close()` ends it.
 */
export class TlsProbe {
  constructor(target) {
    this.target = target;
    this.counts = { connections: 0, classified: 0, resumed: 0, resumptionOffered: 0, protocols: {} };
    this.sockets = new Set();
    this.server = net.createServer((client) => this.#relay(client));
  }

  start(port = 0) {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve(this.server.address().port));
    });
  }

  #relay(client) {
    this.counts.connections++;
    const upstream = net.connect(this.target, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client).add(upstream);
    const seen = { c: [], s: [], cBytes: 0, sBytes: 0, done: false };
    const tryClassify = () => {
      if (seen.done || seen.cBytes === 0 || seen.sBytes === 0) return;
      const r = classify(Buffer.concat(seen.c), Buffer.concat(seen.s));
      if (r.protocol === 'unknown' && seen.sBytes < 16384) return; // wait for more of the server's flight
      seen.done = true;
      seen.c = seen.s = [];
      this.counts.classified++;
      this.counts.protocols[r.protocol] = (this.counts.protocols[r.protocol] ?? 0) + 1;
      if (r.resumed) this.counts.resumed++;
      if (r.offered) this.counts.resumptionOffered++;
    };
    client.on('data', (d) => {
      if (!seen.done) (seen.c.push(d), (seen.cBytes += d.length));
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!seen.done) (seen.s.push(d), (seen.sBytes += d.length), tryClassify());
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    for (const s of [client, upstream]) (s.on('error', end), s.on('close', end));
  }

  stats() {
    return structuredClone(this.counts);
  }

  close() {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}
