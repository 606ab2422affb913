// D-Bus wire format, receive side (pure): split a byte stream into messages and decode a message's header
// fields and body. Bodies come out in dbus-next's format (what its connection emits), so a message decoded
// here is interchangeable with one decoded by dbus-next: variants are dbus-next Variant instances,
// dictionaries plain objects, `ay` a Buffer, structs arrays, `x`/`t` BigInt.
//
// Used for the hot path (BusItem signals): dbus-next's reader costs two stream reads, a generic header
// parse, a format conversion and validation per message.

import dbus from "dbus-next";
import { Buffer } from "node:buffer";

const { Variant } = dbus;

/** The spec's maximum message size (2^27). */
const MAX_MESSAGE_BYTES = 134217728;

export const MESSAGE_TYPE = { methodCall: 1, methodReturn: 2, error: 3, signal: 4 } as const;

export class DbusWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DbusWireError";
  }
}

/**
 * Splits a byte stream into complete D-Bus messages. Complete messages inside one chunk are handed out as
 * views into that chunk (valid only during the callback); a partial tail is copied and joined with the
 * next chunk(s).
 */
export class DbusMessageSplitter {
  /** An incomplete message: `len` bytes of it in `buf` (sized to the whole message once its length is known). */
  private buf?: Uint8Array;
  private len = 0;
  private total = 0;

  /** Feeds a chunk; calls onMessage for every message it completes. Throws DbusWireError on garbage. */
  push(chunk: Uint8Array, onMessage: (msg: Uint8Array) => void): void {
    let off = 0;
    while (this.buf) {
      const need = this.len < 16 ? 16 : this.total;
      const take = Math.min(need - this.len, chunk.length - off);
      this.buf.set(chunk.subarray(off, off + take), this.len);
      this.len += take;
      off += take;
      if (this.len < need) return; // the chunk is used up
      if (need === 16) {
        this.total = messageLength(this.buf, 0);
        if (this.total > this.buf.length) {
          const grown = new Uint8Array(this.total);
          grown.set(this.buf.subarray(0, this.len));
          this.buf = grown;
        }
        if (this.total > 16) continue;
      }
      const msg = this.buf.subarray(0, this.total);
      this.buf = undefined;
      onMessage(msg);
    }
    while (off < chunk.length) {
      const rest = chunk.length - off;
      const total = rest < 16 ? 0 : messageLength(chunk, off);
      if (rest < 16 || rest < total) {
        this.buf = new Uint8Array(Math.max(16, total));
        this.buf.set(chunk.subarray(off));
        this.len = rest;
        this.total = total;
        return;
      }
      onMessage(chunk.subarray(off, off + total));
      off += total;
    }
  }

  /** Bytes held for an incomplete message. */
  get buffered(): number {
    return this.buf ? this.len : 0;
  }
}

/** Total length of the message whose fixed header starts at `off` (16 bytes must be there). */
export function messageLength(b: Uint8Array, off: number): number {
  const e = b[off];
  if (e !== 0x6c && e !== 0x42) throw new DbusWireError(`bad endianness byte 0x${e.toString(16)}`);
  if (b[off + 3] !== 1) throw new DbusWireError(`unsupported protocol version ${b[off + 3]}`);
  const le = e === 0x6c;
  const bodyLen = u32(b, off + 4, le);
  const fieldsLen = u32(b, off + 12, le);
  const total = 16 + ((fieldsLen + 7) & ~7) + bodyLen;
  if (total > MAX_MESSAGE_BYTES) {
    throw new DbusWireError(`message of ${total} bytes exceeds the 128 MiB limit`);
  }
  return total;
}

function u32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
    : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

// ------------------------------------------------------------------------------------------------
// Header

export interface WireHeader {
  type: number;
  flags: number;
  serial: number;
  littleEndian: boolean;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature: string;
  unixFds?: number;
  /** Offset of the body in the message. */
  bodyOffset: number;
  bodyLength: number;
}

/** A decoded message: header fields and the body in dbus-next's format. */
export interface WireMessage extends WireHeader {
  body: unknown[];
}

/** Decodes the header of one complete message (as handed out by DbusMessageSplitter). */
export function decodeHeader(msg: Uint8Array): WireHeader {
  const r = new Reader(msg, msg[0] === 0x6c);
  const h: WireHeader = {
    type: msg[1],
    flags: msg[2],
    serial: u32(msg, 8, r.le),
    littleEndian: r.le,
    signature: "",
    bodyOffset: 0,
    bodyLength: u32(msg, 4, r.le),
  };
  const fieldsLen = u32(msg, 12, r.le);
  r.pos = 16;
  const end = 16 + fieldsLen;
  if (end > msg.length) throw new DbusWireError("header fields run past the message");
  while (r.pos < end) {
    r.align(8);
    const code = msg[r.pos];
    const sigLen = msg[r.pos + 1];
    const sig = r.ascii(r.pos + 2, sigLen);
    r.pos += 3 + sigLen;
    switch (code) {
      case 1:
        h.path = r.str(sig, "o");
        break;
      case 2:
        h.interface = r.str(sig, "s");
        break;
      case 3:
        h.member = r.str(sig, "s");
        break;
      case 4:
        h.errorName = r.str(sig, "s");
        break;
      case 5:
        h.replySerial = r.uint(sig);
        break;
      case 6:
        h.destination = r.str(sig, "s");
        break;
      case 7:
        h.sender = r.str(sig, "s");
        break;
      case 8:
        h.signature = r.str(sig, "g");
        break;
      case 9:
        h.unixFds = r.uint(sig);
        break;
      default: // unknown fields must be ignored
        r.value(parseOne(sig));
    }
  }
  h.bodyOffset = 16 + ((fieldsLen + 7) & ~7);
  if (h.bodyOffset + h.bodyLength !== msg.length) {
    throw new DbusWireError("message length does not match its header");
  }
  return h;
}

/** Decodes a whole message (header and body). */
export function decodeMessage(msg: Uint8Array): WireMessage {
  const h = decodeHeader(msg) as WireMessage;
  h.body = h.bodyLength > 0 && h.signature ? decodeBody(msg, h) : [];
  return h;
}

/** Decodes the body of a message whose header was decoded by decodeHeader. */
export function decodeBody(msg: Uint8Array, h: WireHeader): unknown[] {
  const types = parseSignatureCached(h.signature);
  const r = new Reader(msg, h.littleEndian);
  r.pos = h.bodyOffset;
  const out: unknown[] = new Array(types.length);
  for (let i = 0; i < types.length; i++) out[i] = r.value(types[i]);
  if (r.pos > msg.length) throw new DbusWireError("body runs past the message");
  return out;
}

// ------------------------------------------------------------------------------------------------
// Signatures

export interface SigType {
  /** Type code: a basic type letter, "a", "(", "{" or "v". */
  t: string;
  /** Children: one for "a", the members for "(" and two for "{". */
  c: SigType[];
  /** The signature text of this type (for variants). */
  s: string;
}

const sigCache = new Map<string, SigType[]>();

/** The complete types of a signature (cached; signatures repeat). */
export function parseSignatureCached(sig: string): SigType[] {
  let t = sigCache.get(sig);
  if (!t) {
    t = parseSignatureText(sig);
    if (sigCache.size > 1000) sigCache.clear();
    sigCache.set(sig, t);
  }
  return t;
}

function parseOne(sig: string): SigType {
  const t = parseSignatureCached(sig);
  if (t.length !== 1) throw new DbusWireError(`header field signature "${sig}" is not one complete type`);
  return t[0];
}

const BASIC = "ybnqiuxtdsogh";

function parseSignatureText(sig: string): SigType[] {
  let i = 0;
  const one = (depth: number): SigType => {
    if (depth > 64) throw new DbusWireError(`signature "${sig}" nests too deep`);
    const start = i;
    const ch = sig[i++];
    if (ch === undefined) throw new DbusWireError(`signature "${sig}" ends early`);
    if (BASIC.includes(ch) || ch === "v") return { t: ch, c: [], s: ch };
    if (ch === "a") {
      const el = one(depth + 1);
      return { t: "a", c: [el], s: sig.slice(start, i) };
    }
    if (ch === "(" || ch === "{") {
      const close = ch === "(" ? ")" : "}";
      const c: SigType[] = [];
      while (sig[i] !== close) {
        if (i >= sig.length) throw new DbusWireError(`signature "${sig}" ends early`);
        c.push(one(depth + 1));
      }
      i++;
      if (c.length === 0 || (ch === "{" && c.length !== 2)) {
        throw new DbusWireError(`bad container in signature "${sig}"`);
      }
      return { t: ch, c, s: sig.slice(start, i) };
    }
    throw new DbusWireError(`unknown type "${ch}" in signature "${sig}"`);
  };
  const out: SigType[] = [];
  while (i < sig.length) out.push(one(0));
  return out;
}

// ------------------------------------------------------------------------------------------------
// Values

const utf8 = new TextDecoder("utf-8");
const ALIGN: Record<string, number> = {
  y: 1,
  b: 4,
  n: 2,
  q: 2,
  i: 4,
  u: 4,
  x: 8,
  t: 8,
  d: 8,
  s: 4,
  o: 4,
  g: 1,
  h: 4,
  a: 4,
  "(": 8,
  "{": 8,
  v: 1,
};

class Reader {
  pos = 0;
  private dv: DataView;
  constructor(readonly b: Uint8Array, readonly le: boolean) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  align(n: number): void {
    this.pos = (this.pos + n - 1) & ~(n - 1);
  }

  /** A string of `len` bytes at `at` (ASCII fast path). */
  ascii(at: number, len: number): string {
    const b = this.b;
    if (at + len > b.length) throw new DbusWireError("string runs past the message");
    if (len <= 64) {
      let s = "";
      for (let k = at; k < at + len; k++) {
        const c = b[k];
        if (c >= 0x80) return utf8.decode(b.subarray(at, at + len));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return utf8.decode(b.subarray(at, at + len));
  }

  str(sig: string, want: string): string {
    if (sig !== want && !(want !== "g" && (sig === "s" || sig === "o"))) {
      throw new DbusWireError(`header field has signature "${sig}", expected "${want}"`);
    }
    return this.value(want === "g" ? G : S) as string;
  }

  uint(sig: string): number {
    if (sig !== "u") throw new DbusWireError(`header field has signature "${sig}", expected "u"`);
    this.align(4);
    const v = this.dv.getUint32(this.pos, this.le);
    this.pos += 4;
    return v;
  }

  value(t: SigType): unknown {
    const dv = this.dv;
    switch (t.t) {
      case "y":
        return this.b[this.pos++];
      case "b": {
        this.align(4);
        const v = dv.getUint32(this.pos, this.le);
        this.pos += 4;
        return v !== 0;
      }
      case "n": {
        this.align(2);
        const v = dv.getInt16(this.pos, this.le);
        this.pos += 2;
        return v;
      }
      case "q": {
        this.align(2);
        const v = dv.getUint16(this.pos, this.le);
        this.pos += 2;
        return v;
      }
      case "i": {
        this.align(4);
        const v = dv.getInt32(this.pos, this.le);
        this.pos += 4;
        return v;
      }
      case "u": {
        this.align(4);
        const v = dv.getUint32(this.pos, this.le);
        this.pos += 4;
        return v;
      }
      case "x": {
        this.align(8);
        const v = dv.getBigInt64(this.pos, this.le);
        this.pos += 8;
        return v;
      }
      case "t": {
        this.align(8);
        const v = dv.getBigUint64(this.pos, this.le);
        this.pos += 8;
        return v;
      }
      case "d": {
        this.align(8);
        const v = dv.getFloat64(this.pos, this.le);
        this.pos += 8;
        return v;
      }
      case "s":
      case "o": {
        this.align(4);
        const len = dv.getUint32(this.pos, this.le);
        const s = this.ascii(this.pos + 4, len);
        this.pos += 5 + len;
        return s;
      }
      case "g": {
        const len = this.b[this.pos];
        const s = this.ascii(this.pos + 1, len);
        this.pos += 2 + len;
        return s;
      }
      case "v": {
        const sig = this.value(G) as string;
        const inner = parseSignatureCached(sig);
        if (inner.length !== 1) {
          throw new DbusWireError(`variant signature "${sig}" is not one complete type`);
        }
        return new Variant(sig, this.value(inner[0]));
      }
      case "a":
        return this.array(t.c[0]);
      case "(": {
        this.align(8);
        const out = new Array(t.c.length);
        for (let k = 0; k < t.c.length; k++) out[k] = this.value(t.c[k]);
        return out;
      }
      case "h":
        throw new DbusWireError("unix fds are not supported");
      default:
        throw new DbusWireError(`cannot decode type "${t.t}"`);
    }
  }

  private array(el: SigType): unknown {
    this.align(4);
    const len = this.dv.getUint32(this.pos, this.le);
    this.pos += 4;
    if (len > MAX_MESSAGE_BYTES / 2) throw new DbusWireError("array too long");
    if (el.t === "y") {
      const start = this.pos;
      this.pos += len;
      if (this.pos > this.b.length) throw new DbusWireError("array runs past the message");
      return Buffer.from(this.b.subarray(start, this.pos)); // a copy: the message bytes are reused
    }
    this.align(ALIGN[el.t]);
    const end = this.pos + len;
    if (end > this.b.length) throw new DbusWireError("array runs past the message");
    if (el.t === "{") {
      // A plain object keeps string keys in insertion order, except keys that look like array indices
      // ("2", "10"), which JS puts first in numeric order. Such a dictionary (and any with non-string keys)
      // is returned as [key, value] pairs instead, in D-Bus order.
      let o: Record<string, unknown> | undefined = {};
      let pairs: [unknown, unknown][] | undefined;
      const kt = el.c[0], vt = el.c[1];
      while (this.pos < end) {
        this.align(8);
        const k = this.value(kt);
        const v = this.value(vt);
        if (o !== undefined) {
          if (typeof k === "string" && !isIndexKey(k)) {
            if (k === "__proto__") {
              Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
            } else o[k] = v;
            continue;
          }
          pairs = Object.entries(o);
          o = undefined;
        }
        pairs!.push([k, v]);
      }
      return o ?? pairs;
    }
    const out: unknown[] = [];
    while (this.pos < end) out.push(this.value(el));
    return out;
  }
}

/** A key a JS object would reorder: an array index ("0", "17", not "01"). */
function isIndexKey(k: string): boolean {
  const c = k.charCodeAt(0);
  return c >= 48 && c <= 57 && /^(0|[1-9]\d{0,9})$/.test(k) && Number(k) < 4294967295;
}

const S: SigType = { t: "s", c: [], s: "s" };
const G: SigType = { t: "g", c: [], s: "g" };
