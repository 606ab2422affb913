// PURE: LXP dongle TCP frames — encode/decode, CRC-16/MODBUS, stream splitter.
//
// Frame layout (all integers little-endian):
//   0  A1 1A            prefix
//   2  u16              protocol (1, 2 or 5 seen)
//   4  u16              frame length = total − 6
//   6  u8               always 0x01
//   7  u8               TCP function: C1 heartbeat, C2 translated data, C3 read param, C4 write param
//   8  10 bytes         datalog serial (ASCII)
//   18 …                body
// Translated data (C2) body:
//   18 u16              data length = total − 20 (includes the CRC)
//   20 u8               address: 0 request, 1 reply
//   21 u8               device function (0x03 / 0x04 / 0x06 / 0x10, | 0x80 for exceptions)
//   22 10 bytes         inverter serial
//   32 u16              start register
//   34 …                function-specific part
//   end−2 u16           CRC-16/MODBUS over bytes 20 … end−3
//
// No I/O, no timers, no logging. decodeFrame and FrameSplitter.push never throw.

export const TCP_HEARTBEAT = 0xc1, TCP_TRANSLATED = 0xc2, TCP_READ_PARAM = 0xc3, TCP_WRITE_PARAM = 0xc4;
export const FN_READ_HOLD = 0x03, FN_READ_INPUT = 0x04, FN_WRITE_SINGLE = 0x06, FN_WRITE_MULTI = 0x10;

/** Names of the TCP functions, the Modbus functions (exception bit cleared) and the exception codes. */
export const TCP_FUNCTION_NAMES: Readonly<Record<number, string>> = {
  [TCP_HEARTBEAT]: "heartbeat",
  [TCP_TRANSLATED]: "translated data",
  [TCP_READ_PARAM]: "read param",
  [TCP_WRITE_PARAM]: "write param",
};
export const FUNCTION_NAMES: Readonly<Record<number, string>> = {
  [FN_READ_HOLD]: "read hold",
  [FN_READ_INPUT]: "read input",
  [FN_WRITE_SINGLE]: "write single",
  [FN_WRITE_MULTI]: "write multi",
};
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "slave device failure",
  6: "slave busy",
};

/** "slave device failure (code 4)" */
export function exceptionText(code: number): string {
  return `${EXCEPTION_NAMES[code] ?? "unknown exception"} (code ${code})`;
}

/** Largest frame-length field (total − 6) the splitter accepts before treating a header as garbage. */
export const MAX_FRAME_LENGTH = 1024;
/** Smallest frame-length field (the heartbeat's 13). */
const MIN_FRAME_LENGTH = 13;
/** At most this many registers fit in one read reply / write-multi request (byte count is a u8). */
const MAX_REGISTERS = 127;

export interface Heartbeat {
  kind: "heartbeat";
  protocol: number;
  datalog: string;
  trailer: number;
}
export interface TranslatedData {
  kind: "translated";
  protocol: number; // 1, 2 or 5
  datalog: string; // 10 chars
  address: number; // 0 request, 1 reply
  fn: number; // device function; exception replies have 0x80 set
  serial: string; // inverter serial, 10 chars
  register: number; // start register
  count?: number; // read requests (0x03/0x04); write-multi request and reply
  values?: number[]; // read replies (u16 each); write-multi request values
  value?: number; // write-single request and reply (echo)
  exceptionCode?: number; // when fn & 0x80
  byteCountPresent?: boolean; // read replies: byte-count byte on the wire (absent in protocol-1 replies)
}
export interface ReadParam {
  kind: "readParam";
  protocol: number;
  datalog: string;
  param: number;
  value?: Uint8Array;
}
export interface WriteParam {
  kind: "writeParam";
  protocol: number;
  datalog: string;
  param: number;
  value?: Uint8Array;
  result?: number;
}
export type Packet = Heartbeat | TranslatedData | ReadParam | WriteParam;
/**
 * `internal` marks the decoder's defensive path (an exception caught inside it, i.e. a bug): a malformed
 * frame is always reported without it.
 */
export type DecodeResult = { ok: true; packet: Packet } | { ok: false; error: string; internal?: true };

// ---------------------------------------------------------------------------------------------------------
// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF, no final xor)

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

function crcRange(b: Uint8Array, start: number, end: number): number {
  let crc = 0xffff;
  const t = CRC_TABLE;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ t[(crc ^ b[i]) & 0xff];
  return crc;
}

export function crc16Modbus(bytes: Uint8Array): number {
  return crcRange(bytes, 0, bytes.length);
}

// ---------------------------------------------------------------------------------------------------------
// Hex helpers

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** Accepts upper/lower case, whitespace and ':' separators; throws on odd length or a non-hex character. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, "");
  if (!/^[0-9a-fA-F]*$/.test(clean)) throw new RangeError(`fromHex: invalid hex string "${hex}"`);
  if (clean.length % 2 !== 0) throw new RangeError(`fromHex: odd number of hex digits in "${hex}"`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

// Serial strings repeat on every frame; memoise the last one per slot so decoding allocates no strings.
const strCacheBytes = [new Uint8Array(10), new Uint8Array(10)];
const strCacheValue = ["", ""];
const strCacheValid = [false, false];

function ascii10(b: Uint8Array, off: number, slot: 0 | 1): string {
  const cb = strCacheBytes[slot];
  if (strCacheValid[slot]) {
    let same = true;
    for (let i = 0; i < 10; i++) {
      if (cb[i] !== b[off + i]) {
        same = false;
        break;
      }
    }
    if (same) return strCacheValue[slot];
  }
  const s = String.fromCharCode(
    b[off],
    b[off + 1],
    b[off + 2],
    b[off + 3],
    b[off + 4],
    b[off + 5],
    b[off + 6],
    b[off + 7],
    b[off + 8],
    b[off + 9],
  );
  for (let i = 0; i < 10; i++) cb[i] = b[off + i];
  strCacheValue[slot] = s;
  strCacheValid[slot] = true;
  return s;
}

function fail(error: string): DecodeResult {
  return { ok: false, error };
}

function hex2(n: number): string {
  return "0x" + n.toString(16).padStart(2, "0");
}

/**
 * Which way a frame travels. Only matters for one ambiguous layout: a 0x03/0x04 frame whose part after
 * the register is exactly 2 bytes is either a request (count) or a protocol-1 reply carrying one register
 * without a byte-count byte. "auto" (default) decides by the address byte (0 → request, else reply);
 * "reply" / "request" force the reading (a client that only ever receives replies can pass "reply").
 */
export type FrameDirection = "auto" | "request" | "reply";
export interface DecodeOptions {
  direction?: FrameDirection;
}

/** Decode exactly one frame (the whole of `frame`). Never throws. */
export function decodeFrame(frame: Uint8Array, options?: DecodeOptions): DecodeResult {
  try {
    return decodeUnchecked(frame, dirCode(options?.direction));
  } catch (e) {
    return {
      ok: false,
      error: `undecodable frame: ${e instanceof Error ? e.message : String(e)}`,
      internal: true,
    };
  }
}

const DIR_AUTO = 0, DIR_REQUEST = 1, DIR_REPLY = 2;
function dirCode(d: FrameDirection | undefined): number {
  return d === "reply" ? DIR_REPLY : d === "request" ? DIR_REQUEST : DIR_AUTO;
}

function decodeUnchecked(b: Uint8Array, dir: number): DecodeResult {
  const total = b.length;
  if (total < 18) return fail(`frame too short: ${total} bytes (need at least 18)`);
  if (b[0] !== 0xa1 || b[1] !== 0x1a) return fail(`bad prefix ${hex2(b[0])} ${hex2(b[1])} (want 0xa1 0x1a)`);
  const protocol = b[2] | (b[3] << 8);
  const frameLen = b[4] | (b[5] << 8);
  if (frameLen !== total - 6) {
    return fail(`frame length field ${frameLen} does not match ${total} bytes (expected ${total - 6})`);
  }
  if (b[6] !== 0x01) return fail(`byte 6 is ${hex2(b[6])}, expected 0x01`);
  const tcpFn = b[7];
  switch (tcpFn) {
    case TCP_HEARTBEAT:
      if (total !== 19) return fail(`heartbeat must be 19 bytes, got ${total}`);
      return { ok: true, packet: { kind: "heartbeat", protocol, datalog: ascii10(b, 8, 0), trailer: b[18] } };
    case TCP_TRANSLATED:
      return decodeTranslated(b, protocol, dir);
    case TCP_READ_PARAM:
    case TCP_WRITE_PARAM:
      return decodeParam(b, protocol, tcpFn);
    default:
      return fail(`unknown TCP function ${hex2(tcpFn)}`);
  }
}

function decodeTranslated(b: Uint8Array, protocol: number, dir: number): DecodeResult {
  const total = b.length;
  // 20 header + 14 (address, fn, serial, register) + ≥1 + 2 CRC
  if (total < 37) return fail(`translated-data frame too short: ${total} bytes (need at least 37)`);
  const dataLen = b[18] | (b[19] << 8);
  if (dataLen !== total - 20) {
    return fail(`data length field ${dataLen} does not match frame (expected ${total - 20})`);
  }
  const crcEnd = total - 2;
  const wireCrc = b[crcEnd] | (b[crcEnd + 1] << 8);
  const crc = crcRange(b, 20, crcEnd);
  if (crc !== wireCrc) {
    return fail(
      `CRC mismatch: frame carries 0x${wireCrc.toString(16).padStart(4, "0")}, computed 0x${
        crc.toString(16).padStart(4, "0")
      }`,
    );
  }
  const address = b[20];
  const fn = b[21];
  const register = b[32] | (b[33] << 8);
  const restLen = crcEnd - 34; // bytes of the function-specific part
  const datalog = ascii10(b, 8, 0);
  const serial = ascii10(b, 22, 1);

  if (fn & 0x80) {
    if (restLen !== 1) return fail(`exception reply (fn ${hex2(fn)}) must carry 1 code byte, got ${restLen}`);
    return {
      ok: true,
      packet: { kind: "translated", protocol, datalog, address, fn, serial, register, exceptionCode: b[34] },
    };
  }
  switch (fn) {
    case FN_READ_HOLD:
    case FN_READ_INPUT: {
      if (restLen === 2 && (dir === DIR_REQUEST || (dir === DIR_AUTO && address === 0))) {
        const count = b[34] | (b[35] << 8);
        return {
          ok: true,
          packet: { kind: "translated", protocol, datalog, address, fn, serial, register, count },
        };
      }
      // Reply. Values are 2 bytes each, so the parity of the part tells whether a byte-count byte leads it.
      let off = 34;
      let n: number;
      let byteCountPresent: boolean;
      if (restLen & 1) {
        const bc = b[34];
        if (bc !== restLen - 1) {
          return fail(`read reply byte count ${bc} does not match ${restLen - 1} data bytes`);
        }
        off = 35;
        n = bc >>> 1;
        byteCountPresent = true;
      } else {
        if (restLen === 0) return fail("read reply carries no data");
        n = restLen >>> 1;
        byteCountPresent = false;
      }
      const values: number[] = new Array(n);
      for (let i = 0; i < n; i++, off += 2) values[i] = b[off] | (b[off + 1] << 8);
      return {
        ok: true,
        packet: {
          kind: "translated",
          protocol,
          datalog,
          address,
          fn,
          serial,
          register,
          values,
          byteCountPresent,
        },
      };
    }
    case FN_WRITE_SINGLE: {
      if (restLen !== 2) return fail(`write-single frame must carry a 2-byte value, got ${restLen} bytes`);
      const value = b[34] | (b[35] << 8);
      return {
        ok: true,
        packet: { kind: "translated", protocol, datalog, address, fn, serial, register, value },
      };
    }
    case FN_WRITE_MULTI: {
      if (restLen < 2) return fail(`write-multi frame too short (${restLen} bytes after the register)`);
      const count = b[34] | (b[35] << 8);
      if (restLen === 2) {
        return {
          ok: true,
          packet: { kind: "translated", protocol, datalog, address, fn, serial, register, count },
        };
      }
      const bc = b[36];
      if (bc !== count * 2) {
        return fail(`write-multi byte count ${bc} does not match register count ${count}`);
      }
      if (restLen !== 3 + bc) {
        return fail(`write-multi carries ${restLen - 3} data bytes, byte count says ${bc}`);
      }
      const values: number[] = new Array(count);
      for (let i = 0, off = 37; i < count; i++, off += 2) values[i] = b[off] | (b[off + 1] << 8);
      return {
        ok: true,
        packet: { kind: "translated", protocol, datalog, address, fn, serial, register, count, values },
      };
    }
    default:
      return fail(`unsupported device function ${hex2(fn)}`);
  }
}

function decodeParam(b: Uint8Array, protocol: number, tcpFn: number): DecodeResult {
  const total = b.length;
  const kind = tcpFn === TCP_READ_PARAM ? "readParam" : "writeParam";
  const bodyLen = total - 18;
  if (bodyLen < 2) return fail(`${kind} frame too short: ${total} bytes`);
  const datalog = ascii10(b, 8, 0);
  const param = b[18] | (b[19] << 8);
  if (bodyLen === 2) return { ok: true, packet: { kind, protocol, datalog, param } };
  if (kind === "writeParam" && bodyLen === 3) {
    return { ok: true, packet: { kind, protocol, datalog, param, result: b[20] } };
  }
  if (bodyLen < 4) return fail(`${kind} frame has ${bodyLen - 2} byte(s) after the parameter number`);
  const vlen = b[20] | (b[21] << 8);
  if (vlen !== bodyLen - 4) return fail(`${kind} value length ${vlen} does not match ${bodyLen - 4} bytes`);
  const value = b.slice(22, total);
  return { ok: true, packet: { kind, protocol, datalog, param, value } };
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

function checkU(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${name} must be an integer 0–${max}, got ${v}`);
  }
}

function putSerial(out: Uint8Array, off: number, name: string, s: string): void {
  if (typeof s !== "string" || s.length !== 10) {
    throw new RangeError(`${name} must be exactly 10 characters, got ${JSON.stringify(s)}`);
  }
  for (let i = 0; i < 10; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`${name} must be 8-bit characters, got ${JSON.stringify(s)}`);
    out[off + i] = c;
  }
}

function header(total: number, protocol: number, tcpFn: number, datalog: string): Uint8Array {
  checkU("protocol", protocol, 0xffff);
  const out = new Uint8Array(total);
  out[0] = 0xa1;
  out[1] = 0x1a;
  out[2] = protocol & 0xff;
  out[3] = protocol >>> 8;
  out[4] = (total - 6) & 0xff;
  out[5] = (total - 6) >>> 8;
  out[6] = 0x01;
  out[7] = tcpFn;
  putSerial(out, 8, "datalog", datalog);
  return out;
}

function put16(out: Uint8Array, off: number, v: number): void {
  out[off] = v & 0xff;
  out[off + 1] = v >>> 8;
}

/** Build the wire bytes of a packet. Throws RangeError on invalid input. */
export function encodePacket(p: Packet): Uint8Array {
  switch (p.kind) {
    case "heartbeat": {
      checkU("heartbeat trailer", p.trailer, 0xff);
      const out = header(19, p.protocol, TCP_HEARTBEAT, p.datalog);
      out[18] = p.trailer;
      return out;
    }
    case "translated":
      return encodeTranslated(p);
    case "readParam":
    case "writeParam": {
      checkU("param", p.param, 0xffff);
      const tcpFn = p.kind === "readParam" ? TCP_READ_PARAM : TCP_WRITE_PARAM;
      const result = p.kind === "writeParam" ? p.result : undefined;
      if (p.value !== undefined && result !== undefined) {
        throw new RangeError("writeParam packet cannot carry both value and result");
      }
      if (p.value !== undefined) {
        if (!(p.value instanceof Uint8Array)) throw new RangeError("param value must be a Uint8Array");
        if (p.value.length > MAX_FRAME_LENGTH - 16) {
          throw new RangeError(`param value too long: ${p.value.length} bytes`);
        }
        const out = header(22 + p.value.length, p.protocol, tcpFn, p.datalog);
        put16(out, 18, p.param);
        put16(out, 20, p.value.length);
        out.set(p.value, 22);
        return out;
      }
      if (result !== undefined) {
        checkU("writeParam result", result, 0xff);
        const out = header(21, p.protocol, tcpFn, p.datalog);
        put16(out, 18, p.param);
        out[20] = result;
        return out;
      }
      const out = header(20, p.protocol, tcpFn, p.datalog);
      put16(out, 18, p.param);
      return out;
    }
    default:
      throw new RangeError(`unknown packet kind ${JSON.stringify((p as { kind?: unknown }).kind)}`);
  }
}

function checkValues(values: number[]): void {
  if (!Array.isArray(values)) throw new RangeError("values must be an array");
  if (values.length > MAX_REGISTERS) {
    throw new RangeError(`at most ${MAX_REGISTERS} register values fit in one frame, got ${values.length}`);
  }
  for (let i = 0; i < values.length; i++) checkU(`values[${i}]`, values[i], 0xffff);
}

function encodeTranslated(p: TranslatedData): Uint8Array {
  checkU("address", p.address, 0xff);
  checkU("fn", p.fn, 0xff);
  checkU("register", p.register, 0xffff);
  // Function-specific part
  let rest: number; // byte length
  let fill: (out: Uint8Array) => void;
  if (p.fn & 0x80) {
    const code = p.exceptionCode;
    if (code === undefined) {
      throw new RangeError(`exception reply (fn 0x${p.fn.toString(16)}) needs exceptionCode`);
    }
    checkU("exceptionCode", code, 0xff);
    rest = 1;
    fill = (o) => {
      o[34] = code;
    };
  } else if (p.fn === FN_READ_HOLD || p.fn === FN_READ_INPUT) {
    if (p.values !== undefined) {
      const values = p.values;
      checkValues(values);
      const withBc = p.byteCountPresent ?? p.protocol !== 1;
      if (!withBc && values.length === 0) {
        throw new RangeError("read reply without byte count needs ≥1 value");
      }
      rest = (withBc ? 1 : 0) + values.length * 2;
      fill = (o) => {
        let off = 34;
        if (withBc) o[off++] = values.length * 2;
        for (let i = 0; i < values.length; i++, off += 2) put16(o, off, values[i]);
      };
    } else {
      const count = p.count;
      if (count === undefined) throw new RangeError("read request needs count (or values for a reply)");
      checkU("count", count, 0xffff);
      rest = 2;
      fill = (o) => put16(o, 34, count);
    }
  } else if (p.fn === FN_WRITE_SINGLE) {
    const value = p.value;
    if (value === undefined) throw new RangeError("write-single frame needs value");
    checkU("value", value, 0xffff);
    rest = 2;
    fill = (o) => put16(o, 34, value);
  } else if (p.fn === FN_WRITE_MULTI) {
    if (p.values !== undefined) {
      const values = p.values;
      checkValues(values);
      if (p.count !== undefined && p.count !== values.length) {
        throw new RangeError(`write-multi count ${p.count} does not match ${values.length} values`);
      }
      rest = 3 + values.length * 2;
      fill = (o) => {
        put16(o, 34, values.length);
        o[36] = values.length * 2;
        for (let i = 0, off = 37; i < values.length; i++, off += 2) put16(o, off, values[i]);
      };
    } else {
      const count = p.count;
      if (count === undefined) {
        throw new RangeError("write-multi frame needs values (request) or count (reply)");
      }
      checkU("count", count, 0xffff);
      rest = 2;
      fill = (o) => put16(o, 34, count);
    }
  } else {
    throw new RangeError(`unsupported device function 0x${p.fn.toString(16)}`);
  }
  const total = 34 + rest + 2;
  const out = header(total, p.protocol, TCP_TRANSLATED, p.datalog);
  put16(out, 18, total - 20);
  out[20] = p.address;
  out[21] = p.fn;
  putSerial(out, 22, "serial", p.serial);
  put16(out, 32, p.register);
  fill(out);
  put16(out, total - 2, crcRange(out, 20, total - 2));
  return out;
}

/** A read request (address 0, protocol 1 unless given). */
export function readRequest(
  o: { datalog: string; serial: string; fn: 3 | 4; register: number; count: number; protocol?: number },
): TranslatedData {
  return {
    kind: "translated",
    protocol: o.protocol ?? 1,
    datalog: o.datalog,
    address: 0,
    fn: o.fn,
    serial: o.serial,
    register: o.register,
    count: o.count,
  };
}

/** A write-single request (address 0, protocol 1 unless given). */
export function writeSingleRequest(
  o: { datalog: string; serial: string; register: number; value: number; protocol?: number },
): TranslatedData {
  return {
    kind: "translated",
    protocol: o.protocol ?? 1,
    datalog: o.datalog,
    address: 0,
    fn: FN_WRITE_SINGLE,
    serial: o.serial,
    register: o.register,
    value: o.value,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Stream splitter

/**
 * Turns arbitrary TCP chunks into packets. Handles several frames per chunk, a frame spread over many
 * chunks, and garbage or corrupt frames in between (skipped; resynchronises on the next A1 1A).
 * A header is only trusted when its TCP function is C1–C4 and its length field is plausible
 * (13…MAX_FRAME_LENGTH; heartbeat exactly 13; translated data ≥31 with a matching data-length field);
 * otherwise the prefix is treated as garbage at once instead of waiting for a bogus length.
 * A complete candidate frame that fails to decode counts in badFrames; its bytes are then skipped one
 * prefix at a time, so a valid frame hidden behind a truncated one is still found.
 *
 * Truncated frames (dongles cut replies short): while the frame at the head is still incomplete, a later
 * A1 1A that starts a complete frame which decodes (CRC included) wins: the truncated head is dropped
 * (truncatedFrames) and the later frame delivered at once. A frame without a CRC (heartbeat, param) that
 * has another plausible header inside it is not trusted either: the inner frame wins when it decodes.
 * A head that never completes is dropped by expire(), which the owner calls when no new byte arrived for
 * a short gap (the splitter itself keeps no clock).
 * droppedBytes counts every byte discarded (garbage and bytes of bad or truncated frames).
 */
export class FrameSplitter {
  droppedBytes = 0;
  badFrames = 0;
  /** Incomplete frames given up: overtaken by a complete frame, or dropped by expire(). */
  truncatedFrames = 0;
  /** Times push() took its defensive path (an internal error; the buffer was dropped). Should stay 0. */
  internalErrors = 0;
  readonly #dir: number;

  /** `direction` as for decodeFrame (default "auto"). */
  constructor(options?: DecodeOptions) {
    this.#dir = dirCode(options?.direction);
  }

  #buf: Uint8Array = new Uint8Array(4096);
  #len = 0; // bytes held in #buf (always starting at 0)

  /** Bytes currently buffered (an incomplete frame or a partial prefix). */
  get buffered(): number {
    return this.#len;
  }

  push(chunk: Uint8Array): Packet[] {
    const out: Packet[] = [];
    try {
      if (!(chunk instanceof Uint8Array) || chunk.length === 0) return out;
      if (this.#len === 0) {
        // Fast path: parse straight out of the chunk, keep only the tail.
        const used = this.#scan(chunk, chunk.length, out);
        if (used < chunk.length) this.#store(chunk.subarray(used));
        return out;
      }
      this.#append(chunk);
      this.#consume(this.#scan(this.#buf, this.#len, out));
    } catch {
      // Defensive: should be unreachable. Drop everything buffered and carry on.
      this.internalErrors++;
      this.droppedBytes += this.#len;
      this.#len = 0;
      this.#headSearched = 0;
    }
    return out;
  }

  /**
   * Gives up waiting (call it when no new byte arrived for a short gap): an incomplete frame is dropped
   * (truncatedFrames; its bytes up to the next A1), a complete frame that was held back because another
   * header might follow inside it is decoded, and the buffer ends up empty. Returns what that yields.
   */
  expire(): Packet[] {
    const out: Packet[] = [];
    if (this.#len === 0) return out;
    try {
      this.#consume(this.#scan(this.#buf, this.#len, out, true));
    } catch {
      this.internalErrors++;
      this.droppedBytes += this.#len;
      this.#len = 0;
      this.#headSearched = 0;
    }
    return out;
  }

  /** Forget any buffered partial frame (e.g. after a reconnect). */
  reset(): void {
    this.#len = 0;
    this.#headSearched = 0;
  }

  #consume(used: number): void {
    if (used > 0) {
      this.#buf.copyWithin(0, used, this.#len);
      this.#len -= used;
    }
  }

  #store(bytes: Uint8Array): void {
    if (bytes.length > this.#buf.length) {
      this.#buf = new Uint8Array(Math.max(bytes.length, this.#buf.length * 2));
    }
    this.#buf.set(bytes, 0);
    this.#len = bytes.length;
  }

  #append(bytes: Uint8Array): void {
    const need = this.#len + bytes.length;
    if (need > this.#buf.length) {
      const nb = new Uint8Array(Math.max(need, this.#buf.length * 2));
      nb.set(this.#buf.subarray(0, this.#len), 0);
      this.#buf = nb;
    }
    this.#buf.set(bytes, this.#len);
    this.#len = need;
  }

  /**
   * The frame length a header at b[pos] (b[pos] = A1, b[pos+1] = 1A) announces: the total in bytes, 0 when
   * more bytes are needed to tell, -1 when the header is not plausible.
   */
  #headerTotal(b: Uint8Array, pos: number, end: number): number {
    if (pos + 8 > end) return 0; // need the length and TCP function
    const len = b[pos + 4] | (b[pos + 5] << 8);
    if (len < MIN_FRAME_LENGTH || len > MAX_FRAME_LENGTH || b[pos + 6] !== 0x01) return -1;
    const tcpFn = b[pos + 7];
    if (tcpFn === TCP_TRANSLATED) {
      if (len < 31) return -1;
      if (pos + 20 <= end && (b[pos + 18] | (b[pos + 19] << 8)) !== len - 14) return -1;
    } else if (tcpFn === TCP_HEARTBEAT) {
      if (len !== 13) return -1;
    } else if (tcpFn === TCP_READ_PARAM || tcpFn === TCP_WRITE_PARAM) {
      if (len < 14) return -1;
    } else return -1;
    return len + 6;
  }

  /**
   * Looks in b[from..to) for an A1 1A that starts a complete frame that decodes. Returns its position and
   * the packet (in #found), or -1. `waiting` is set when a plausible but still incomplete header was seen.
   */
  #findInner(b: Uint8Array, from: number, to: number, end: number): number {
    this.#innerWaiting = false;
    this.#firstWaiting = to;
    let q = from;
    while (q < to) {
      q = b.indexOf(0xa1, q);
      if (q < 0 || q >= to) return -1;
      if (q + 1 >= end) {
        if (!this.#innerWaiting) this.#firstWaiting = q;
        this.#innerWaiting = true;
        return -1;
      }
      if (b[q + 1] === 0x1a) {
        const total = this.#headerTotal(b, q, end);
        if (total === 0 || (total > 0 && q + total > end)) {
          if (!this.#innerWaiting) this.#firstWaiting = q;
          this.#innerWaiting = true;
        } else if (total > 0) {
          const r = decodeUnchecked(b.subarray(q, q + total), this.#dir);
          if (r.ok) {
            this.#found = r.packet;
            return q;
          }
        }
      }
      q++;
    }
    return -1;
  }
  #found: Packet | null = null;
  #innerWaiting = false;
  #firstWaiting = 0;
  // Bytes of the incomplete frame at the head of #buf already searched by #findInner (nothing to find
  // before this offset), so a frame arriving in many chunks is not searched again from its start.
  #headSearched = 0;

  /** Parse frames from b[0..end); returns the number of bytes consumed. */
  #scan(b: Uint8Array, end: number, out: Packet[], final = false): number {
    const searched = this.#headSearched;
    this.#headSearched = 0; // only an incomplete head keeps it (set where the scan stops for one)
    let pos = 0;
    while (pos < end) {
      // Find a prefix.
      if (b[pos] !== 0xa1) {
        let p = b.indexOf(0xa1, pos + 1);
        if (p < 0 || p > end) p = end;
        this.droppedBytes += p - pos;
        pos = p;
        continue;
      }
      if (pos + 1 >= end) { // lone A1 at the end: wait
        if (!final) break;
        this.droppedBytes++;
        pos++;
        continue;
      }
      if (b[pos + 1] !== 0x1a) {
        this.droppedBytes++;
        pos++;
        continue;
      }
      const total = this.#headerTotal(b, pos, end);
      if (total === 0 && !final) break; // header incomplete: wait
      if (total <= 0) {
        this.droppedBytes++;
        pos++;
        continue;
      }
      if (pos + total > end) {
        // Incomplete: a complete frame starting later means this one was cut short.
        // (pos 0 with bytes buffered before: the same head as last time, searched up to #headSearched)
        const from = pos === 0 && b === this.#buf ? Math.max(1, searched) : pos + 1;
        const q = this.#findInner(b, from, end, end);
        if (q < 0) {
          if (!final) {
            this.#headSearched = this.#firstWaiting - pos;
            return pos; // wait for more
          }
          // Given up: drop it up to the next A1.
          let next = b.indexOf(0xa1, pos + 1);
          if (next < 0 || next > end) next = end;
          this.truncatedFrames++;
          this.droppedBytes += next - pos;
          pos = next;
          continue;
        }
        this.truncatedFrames++;
        this.droppedBytes += q - pos;
        out.push(this.#found!);
        this.#found = null;
        pos = q + this.#headerTotal(b, q, end);
        continue;
      }
      if (b[pos + 7] !== TCP_TRANSLATED) {
        // No CRC: a plausible header inside (or right at the end of) it means it is a truncated frame
        // followed by another one.
        const q = this.#findInner(b, pos + 1, pos + total, end);
        if (q >= 0) {
          this.truncatedFrames++;
          this.droppedBytes += q - pos;
          out.push(this.#found!);
          this.#found = null;
          pos = q + this.#headerTotal(b, q, end);
          continue;
        }
        if (this.#innerWaiting && !final) break; // the inner frame may still complete: wait
      }
      const r = decodeUnchecked(b.subarray(pos, pos + total), this.#dir);
      if (r.ok) {
        out.push(r.packet);
        pos += total;
      } else {
        this.badFrames++;
        this.droppedBytes++;
        pos++;
      }
    }
    return pos;
  }
}
