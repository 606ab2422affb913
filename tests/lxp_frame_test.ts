import assert from "node:assert/strict";
import fc from "fast-check";
import {
  crc16Modbus,
  decodeFrame,
  encodePacket,
  FN_READ_HOLD,
  FN_READ_INPUT,
  FN_WRITE_MULTI,
  FN_WRITE_SINGLE,
  FrameSplitter,
  fromHex,
  type Packet,
  readRequest,
  toHex,
  type TranslatedData,
  writeSingleRequest,
} from "../src/lxp/frame.ts";
import { HEARTBEAT_P5_TRAILER5, V } from "./fixtures/lxp_vectors.ts";

const DL = "2222222222";
const SN = "5555555555";

function decodeOk(hex: string, direction?: "auto" | "request" | "reply"): Packet {
  const r = decodeFrame(fromHex(hex), { direction });
  if (!r.ok) throw new Error(`decode failed: ${r.error}`);
  return r.packet;
}

/** decode → expected packet, and encode(packet) → the same bytes. */
function both(hex: string, expected: Packet, direction?: "auto" | "request" | "reply"): void {
  const bytes = fromHex(hex);
  const p = decodeOk(hex, direction);
  assert.deepStrictEqual(p, expected);
  assert.equal(toHex(encodePacket(p)), toHex(bytes));
  assert.equal(toHex(encodePacket(expected)), toHex(bytes));
}

// ------------------------------------------------------------------------------------------------ vectors

Deno.test("crc16Modbus: standard check value", () => {
  assert.equal(crc16Modbus(new TextEncoder().encode("123456789")), 0x4b37);
  assert.equal(crc16Modbus(new Uint8Array(0)), 0xffff);
});

Deno.test("hex helpers", () => {
  assert.equal(toHex(fromHex("A1 1a:02\n00")), "a11a0200");
  assert.throws(() => fromHex("abc"), RangeError);
  assert.throws(() => fromHex("zz"), RangeError);
  assert.equal(fromHex("").length, 0);
});

Deno.test("§2.1 heartbeat", () => {
  both(V.heartbeat, { kind: "heartbeat", protocol: 2, datalog: DL, trailer: 0 });
  assert.equal(fromHex(V.heartbeat).length, 19);
});

Deno.test("heartbeat with protocol 5 and a non-zero trailing byte is preserved", () => {
  both(HEARTBEAT_P5_TRAILER5, { kind: "heartbeat", protocol: 5, datalog: DL, trailer: 5 });
});

Deno.test("§2.2 read hold request 12×3", () => {
  const expected: TranslatedData = {
    kind: "translated",
    protocol: 1,
    datalog: DL,
    address: 0,
    fn: 3,
    serial: SN,
    register: 12,
    count: 3,
  };
  both(V.readHold12x3Request, expected);
  assert.deepStrictEqual(readRequest({ datalog: DL, serial: SN, fn: 3, register: 12, count: 3 }), expected);
  assert.equal(
    toHex(encodePacket(readRequest({ datalog: DL, serial: SN, fn: 3, register: 12, count: 3 }))),
    "a11a0100200001c23232323232323232323212000003353535353535353535350c0003007026",
  );
});

Deno.test("§2.3 read hold reply 12–14 (byte count present)", () => {
  both(V.readHold12x3Reply, {
    kind: "translated",
    protocol: 2,
    datalog: DL,
    address: 1,
    fn: 3,
    serial: SN,
    register: 12,
    values: [1558, 1300, 14608],
    byteCountPresent: true,
  });
});

Deno.test("§2.3 protocol-1 reply without byte count and its count-1 request", () => {
  // The lxp-bridge fake-inverter reply carries address 0, so its bytes have the layout of a request;
  // a receiver that only sees replies decodes it with direction "reply".
  both(V.readHold12P1Reply, {
    kind: "translated",
    protocol: 1,
    datalog: DL,
    address: 0,
    fn: 3,
    serial: SN,
    register: 12,
    values: [10270],
    byteCountPresent: false,
  }, "reply");
  // auto: address 0 → request reading (same bytes on re-encode)
  both(V.readHold12P1Reply, {
    kind: "translated",
    protocol: 1,
    datalog: DL,
    address: 0,
    fn: 3,
    serial: SN,
    register: 12,
    count: 10270,
  });
  both(V.readHold12x1Request, {
    kind: "translated",
    protocol: 1,
    datalog: DL,
    address: 0,
    fn: 3,
    serial: SN,
    register: 12,
    count: 1,
  });
  both(V.readHold12x1Request, {
    kind: "translated",
    protocol: 1,
    datalog: DL,
    address: 0,
    fn: 3,
    serial: SN,
    register: 12,
    count: 1,
  }, "request");
  // The same reply with address 1 is a reply in auto mode.
  const addr1: TranslatedData = {
    kind: "translated",
    protocol: 1,
    datalog: DL,
    address: 1,
    fn: 3,
    serial: SN,
    register: 12,
    values: [10270],
    byteCountPresent: false,
  };
  assert.deepStrictEqual(decodeOk(toHex(encodePacket(addr1))), addr1);
  // Splitter with direction "reply"
  const sp = new FrameSplitter({ direction: "reply" });
  const got = sp.push(fromHex(V.readHold12P1Reply));
  assert.deepStrictEqual((got[0] as TranslatedData).values, [10270]);
});

Deno.test("§2.5 read input requests", () => {
  const cases: [string, number][] = [[V.readInput0Request, 0], [V.readInput40Request, 40], [
    V.readInput80Request,
    80,
  ]];
  for (const [hex, register] of cases) {
    const expected = readRequest({ datalog: DL, serial: SN, fn: 4, register, count: 40 });
    both(hex, expected);
  }
});

function inputReply(register: number, values: number[]): TranslatedData {
  return {
    kind: "translated",
    protocol: 2,
    datalog: DL,
    address: 1,
    fn: 4,
    serial: SN,
    register,
    values,
    byteCountPresent: true,
  };
}

Deno.test("§2.6 read input replies (three blocks)", () => {
  const r1 = decodeOk(V.readInput1Reply) as TranslatedData;
  assert.equal(fromHex(V.readInput1Reply).length, 117);
  assert.equal(r1.register, 0);
  assert.equal(r1.values!.length, 40);
  assert.equal(r1.values![0], 16);
  assert.equal(r1.values![4], 528);
  assert.equal(r1.values![15], 5004);
  assert.equal(r1.values![38], 3650);
  assert.equal(r1.values![39], 3201);
  both(V.readInput1Reply, inputReply(0, r1.values!));

  const r2 = decodeOk(V.readInput2Reply) as TranslatedData;
  assert.equal(r2.register, 40);
  assert.equal(r2.values![0], 42158);
  assert.equal(r2.values![19], 1);
  assert.equal(r2.values![29] + r2.values![30] * 65536, 82628180); // runtime, low word first
  both(V.readInput2Reply, inputReply(40, r2.values!));

  const r3 = decodeOk(V.readInput3Reply) as TranslatedData;
  assert.equal(r3.register, 80);
  assert.deepStrictEqual(r3.values!.slice(0, 5), [17, 6600, 6600, 535, 400]);
  assert.equal(r3.values![10], 0);
  assert.equal(r3.values![27], 527);
  assert.deepStrictEqual(r3.values!.slice(35), [0x3239, 0x3239, 0x3030, 0x3036, 0x3336]); // "9292006063"
  both(V.readInput3Reply, inputReply(80, r3.values!));
});

Deno.test("§2.8 write single (lxp-bridge and lxp-packet vectors)", () => {
  const req = writeSingleRequest({ datalog: DL, serial: SN, register: 66, value: 100 });
  assert.deepStrictEqual(req, {
    kind: "translated",
    protocol: 1,
    datalog: DL,
    address: 0,
    fn: 6,
    serial: SN,
    register: 66,
    value: 100,
  });
  both(V.writeSingle66Request, req);
  both(V.writeSingle66Reply, { ...req, protocol: 2, address: 1 });
  both(
    V.writeSingle21LxpPacket,
    writeSingleRequest({ datalog: "0987654321", serial: "1234567890", register: 21, value: 8000 }),
  );
});

Deno.test("§2.9 write multi (set clock)", () => {
  both(V.writeMulti12Request, {
    kind: "translated",
    protocol: 2,
    datalog: DL,
    address: 0,
    fn: 0x10,
    serial: SN,
    register: 12,
    count: 3,
    values: [0x0616, 0x1413, 0x2117],
  });
  both(V.writeMulti12Reply, {
    kind: "translated",
    protocol: 2,
    datalog: DL,
    address: 1,
    fn: 0x10,
    serial: SN,
    register: 12,
    count: 3,
  });
  // encoding without an explicit count works too
  const p = decodeOk(V.writeMulti12Request) as TranslatedData;
  assert.equal(toHex(encodePacket({ ...p, count: undefined })), toHex(fromHex(V.writeMulti12Request)));
});

Deno.test("§2.11 param frames", () => {
  both(V.readParam7Request, { kind: "readParam", protocol: 2, datalog: DL, param: 7 });
  both(V.readParam0Reply300, {
    kind: "readParam",
    protocol: 2,
    datalog: DL,
    param: 0,
    value: new Uint8Array([0x2c, 0x01]),
  });
  both(V.readParam0RequestBA, { kind: "readParam", protocol: 1, datalog: "BA19260024", param: 0 });
  both(V.readParam0ReplyBA, {
    kind: "readParam",
    protocol: 2,
    datalog: "BA19260024",
    param: 0,
    value: new Uint8Array([0xb4, 0x00]),
  });
  both(V.writeParam7Request, {
    kind: "writeParam",
    protocol: 2,
    datalog: DL,
    param: 7,
    value: new Uint8Array([0x00, 0x03]),
  });
  both(V.writeParam7Reply, { kind: "writeParam", protocol: 2, datalog: DL, param: 7, result: 3 });
});

Deno.test("exception replies", () => {
  for (const fn of [0x83, 0x84, 0x86, 0x90]) {
    const p: TranslatedData = {
      kind: "translated",
      protocol: 2,
      datalog: DL,
      address: 0,
      fn,
      serial: SN,
      register: 21,
      exceptionCode: 3,
    };
    const bytes = encodePacket(p);
    assert.equal(bytes.length, 37);
    assert.equal(bytes[34], 3);
    assert.deepStrictEqual(decodeOk(toHex(bytes)), p);
  }
});

Deno.test("protocol-5 127-register reply (291 bytes) round trip", () => {
  const values = Array.from({ length: 127 }, (_, i) => (i * 517) & 0xffff);
  const p: TranslatedData = {
    kind: "translated",
    protocol: 5,
    datalog: DL,
    address: 1,
    fn: 4,
    serial: SN,
    register: 0,
    values,
    byteCountPresent: true,
  };
  const bytes = encodePacket(p);
  assert.equal(bytes.length, 291);
  assert.equal(bytes[34], 254);
  assert.deepStrictEqual(decodeOk(toHex(bytes)), p);
});

// ------------------------------------------------------------------------------------------------ errors

Deno.test("decodeFrame reports errors with clear messages", () => {
  const good = fromHex(V.readHold12x3Reply);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /too short/],
    [good.subarray(0, 30), /frame length field 37 does not match 30 bytes/],
    [
      (() => {
        const b = good.slice();
        b[0] = 0;
        return b;
      })(),
      /bad prefix/,
    ],
    [
      (() => {
        const b = good.slice();
        b[7] = 0xc9;
        return b;
      })(),
      /unknown TCP function 0xc9/,
    ],
    [
      (() => {
        const b = good.slice();
        b[18] = 0x18;
        return b;
      })(),
      /data length field 24/,
    ],
    [
      (() => {
        const b = good.slice();
        b[good.length - 1] ^= 1;
        return b;
      })(),
      /CRC mismatch/,
    ],
    [
      (() => {
        const b = good.slice();
        b[4] = 0x26;
        return b;
      })(),
      /frame length field 38/,
    ],
    [fromHex(V.heartbeat + "00").map((x, i) => (i === 4 ? 14 : x)), /heartbeat must be 19 bytes/],
  ];
  for (const [bytes, re] of cases) {
    const r = decodeFrame(bytes);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, re);
  }
  // byte count that does not match the data
  const p = decodeOk(V.readHold12x3Reply) as TranslatedData;
  const bad = encodePacket(p);
  bad[34] = 4;
  const fixed = fixCrc(bad);
  const r = decodeFrame(fixed);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error, /byte count 4 does not match 6/);
  // unsupported device function
  const f = fromHex(V.readHold12x3Request);
  f[21] = 0x21;
  const r2 = decodeFrame(fixCrc(f));
  assert.equal(r2.ok, false);
  if (!r2.ok) assert.match(r2.error, /unsupported device function 0x21/);
});

function fixCrc(b: Uint8Array): Uint8Array {
  const out = b.slice();
  const c = crc16Modbus(out.subarray(20, out.length - 2));
  out[out.length - 2] = c & 0xff;
  out[out.length - 1] = c >>> 8;
  return out;
}

Deno.test("encodePacket rejects invalid input with RangeError", () => {
  const base = readRequest({ datalog: DL, serial: SN, fn: 3, register: 0, count: 1 });
  assert.throws(() => encodePacket({ ...base, serial: "123" }), RangeError);
  assert.throws(() => encodePacket({ ...base, datalog: "12345678901" }), RangeError);
  assert.throws(() => encodePacket({ ...base, register: 0x10000 }), RangeError);
  assert.throws(() => encodePacket({ ...base, count: -1 }), RangeError);
  assert.throws(() => encodePacket({ ...base, count: undefined }), RangeError);
  assert.throws(() => encodePacket({ ...base, count: undefined, values: [0x10000] }), RangeError);
  assert.throws(
    () => encodePacket({ ...base, count: undefined, values: new Array(128).fill(0) }),
    RangeError,
  );
  assert.throws(
    () => encodePacket(writeSingleRequest({ datalog: DL, serial: SN, register: 1, value: 70000 })),
    RangeError,
  );
  assert.throws(() => encodePacket({ ...base, fn: 0x21 }), RangeError);
  assert.throws(() => encodePacket({ ...base, fn: 0x83 }), RangeError);
  assert.throws(() => encodePacket({ ...base, fn: FN_WRITE_MULTI, count: 2, values: [1] }), RangeError);
  assert.throws(
    () => encodePacket({ kind: "heartbeat", protocol: 2, datalog: DL, trailer: 256 }),
    RangeError,
  );
  assert.throws(
    () =>
      encodePacket({
        kind: "writeParam",
        protocol: 2,
        datalog: DL,
        param: 1,
        result: 0,
        value: new Uint8Array(1),
      }),
    RangeError,
  );
});

// ------------------------------------------------------------------------------------------------ properties

/** fc.record builds null-prototype objects; packets from the decoder are plain objects. */
// deno-lint-ignore no-explicit-any
const rec = <T extends Record<string, fc.Arbitrary<any>>>(m: T) =>
  fc.record(m).map((o) => ({ ...o }) as { [K in keyof T]: T[K] extends fc.Arbitrary<infer U> ? U : never });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u8 = fc.integer({ min: 0, max: 0xff });
const serial10 = fc.array(u8, { minLength: 10, maxLength: 10 }).map((a) => String.fromCharCode(...a));
const protocol = fc.oneof(fc.constantFrom(1, 2, 5), u16);
const readFn = fc.constantFrom(FN_READ_HOLD, FN_READ_INPUT);

const heartbeatArb: fc.Arbitrary<Packet> = rec({
  kind: fc.constant("heartbeat" as const),
  protocol,
  datalog: serial10,
  trailer: u8,
});
const common = {
  kind: fc.constant("translated" as const),
  protocol,
  datalog: serial10,
  serial: serial10,
  register: u16,
};
const readReqArb = rec({ ...common, address: fc.constant(0), fn: readFn, count: u16 });
const readReplyArb = fc.oneof(
  rec({
    ...common,
    address: fc.integer({ min: 1, max: 255 }),
    fn: readFn,
    values: fc.array(u16, { maxLength: 127 }),
    byteCountPresent: fc.constant(true),
  }),
  rec({
    ...common,
    address: fc.integer({ min: 1, max: 255 }),
    fn: readFn,
    values: fc.array(u16, { minLength: 1, maxLength: 127 }),
    byteCountPresent: fc.constant(false),
  }),
);
const writeSingleArb = rec({ ...common, address: u8, fn: fc.constant(FN_WRITE_SINGLE), value: u16 });
const writeMultiReqArb = rec({
  ...common,
  address: u8,
  fn: fc.constant(FN_WRITE_MULTI),
  values: fc.array(u16, { maxLength: 127 }),
})
  .map((p) => ({ ...p, count: p.values.length }));
const writeMultiReplyArb = rec({ ...common, address: u8, fn: fc.constant(FN_WRITE_MULTI), count: u16 });
const exceptionArb = rec({
  ...common,
  address: u8,
  fn: fc.integer({ min: 0x80, max: 0xff }),
  exceptionCode: u8,
});
const bytesArb = fc.uint8Array({ maxLength: 64 });
const readParamArb = fc.oneof(
  rec({ kind: fc.constant("readParam" as const), protocol, datalog: serial10, param: u16 }),
  rec({ kind: fc.constant("readParam" as const), protocol, datalog: serial10, param: u16, value: bytesArb }),
);
const writeParamArb = fc.oneof(
  rec({ kind: fc.constant("writeParam" as const), protocol, datalog: serial10, param: u16 }),
  rec({ kind: fc.constant("writeParam" as const), protocol, datalog: serial10, param: u16, value: bytesArb }),
  rec({ kind: fc.constant("writeParam" as const), protocol, datalog: serial10, param: u16, result: u8 }),
);
const translatedArb: fc.Arbitrary<TranslatedData> = fc.oneof(
  readReqArb,
  readReplyArb,
  writeSingleArb,
  writeMultiReqArb,
  writeMultiReplyArb,
  exceptionArb,
);
const packetArb: fc.Arbitrary<Packet> = fc.oneof(heartbeatArb, translatedArb, readParamArb, writeParamArb);

Deno.test("property: decode(encode(p)) deep-equals p for every packet kind", () => {
  fc.assert(
    fc.property(packetArb, (p) => {
      const r = decodeFrame(encodePacket(p));
      assert.ok(r.ok, !r.ok ? r.error : "");
      assert.deepStrictEqual(r.packet, p);
    }),
    { numRuns: 2000 },
  );
});

/** Cut `bytes` at the given (sorted, deduplicated) positions. */
function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const pos = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of pos) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("property: a stream of frames cut into random chunks yields exactly the frames", () => {
  fc.assert(
    fc.property(
      fc.array(packetArb, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (packets, cuts) => {
        const stream = concat(packets.map(encodePacket));
        const sp = new FrameSplitter();
        const got: Packet[] = [];
        for (const c of cut(stream, cuts)) got.push(...sp.push(c));
        // A CRC-less frame ending in A1 at a chunk boundary is held until the next byte or expire().
        got.push(...sp.expire());
        assert.deepStrictEqual(got, packets);
        assert.equal(sp.droppedBytes, 0);
        assert.equal(sp.badFrames, 0);
        assert.equal(sp.truncatedFrames, 0);
        assert.equal(sp.internalErrors, 0);
        assert.equal(sp.buffered, 0);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("splitter: byte-at-a-time, several frames per chunk, one frame over many chunks", () => {
  const frames = [V.heartbeat, V.readInput1Reply, V.readHold12x3Reply, V.writeParam7Reply].map(fromHex);
  const stream = concat(frames);
  const sp = new FrameSplitter();
  const got: Packet[] = [];
  for (let i = 0; i < stream.length; i++) got.push(...sp.push(stream.subarray(i, i + 1)));
  assert.equal(got.length, 4);
  assert.deepStrictEqual(got.map((p) => p.kind), ["heartbeat", "translated", "translated", "writeParam"]);
  const sp2 = new FrameSplitter();
  assert.equal(sp2.push(stream).length, 4);
});

Deno.test("splitter: garbage and a bad-CRC frame between frames are skipped and counted", () => {
  const a = fromHex(V.readHold12x3Reply);
  const bad = fromHex(V.readInput1Reply);
  bad[50] ^= 0xff;
  const garbage = fromHex("0001a1a1ff1a00a11a");
  const hb = fromHex(V.heartbeat);
  const sp = new FrameSplitter();
  const got = sp.push(concat([garbage, a, bad, garbage, hb]));
  assert.deepStrictEqual(got.map((p) => p.kind), ["translated", "heartbeat"]);
  assert.equal(sp.badFrames, 1);
  assert.equal(sp.droppedBytes, garbage.length * 2 + bad.length);
  assert.equal(sp.buffered, 0);
});

Deno.test("splitter: absurd length fields resync immediately", () => {
  const hb = fromHex(V.heartbeat);
  for (const hdr of ["a11a0200ff7f01c2", "a11a0200050001c2", "a11a02000d0001c2", "a11a02002000 01 c9"]) {
    const sp = new FrameSplitter();
    const got = sp.push(concat([fromHex(hdr), hb]));
    assert.equal(got.length, 1, hdr);
    assert.equal(sp.droppedBytes, fromHex(hdr).length);
  }
  // a truncated frame followed by a complete one: the complete one is still found
  const full = fromHex(V.readInput1Reply);
  const sp = new FrameSplitter();
  const got = [...sp.push(concat([full.subarray(0, 60), full])), ...sp.push(concat([full, full]))];
  assert.equal(got.length, 3);
  assert.equal(sp.badFrames, 1);
});

// The decoder and the splitter catch everything, so "does not throw" would pass by construction: assert
// instead that their defensive path is never taken (the `internal` error mark, the internalErrors counter).
Deno.test("property: random bytes never take the defensive path", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }), (chunks) => {
      const sp = new FrameSplitter();
      for (const c of chunks) sp.push(c);
      sp.expire();
      assert.equal(sp.internalErrors, 0);
      assert.equal(sp.buffered, 0);
      for (const c of chunks) {
        const r = decodeFrame(c);
        assert.ok(r.ok || !r.internal, !r.ok ? r.error : "");
      }
    }),
    { numRuns: 1000 },
  );
});

Deno.test("property: random bytes that start like a frame get a plain decode error, never the defensive path", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), u8, u8, (body, fn, tcp) => {
      const b = concat([
        fromHex("a11a0200"),
        new Uint8Array([(body.length + 2) & 0xff, (body.length + 2) >> 8, 1, tcp]),
        body,
      ]);
      const r = decodeFrame(b);
      assert.ok(r.ok || !r.internal, !r.ok ? r.error : "");
      if (b.length > 21) b[21] = fn;
      const r2 = decodeFrame(fixCrc(b));
      assert.ok(r2.ok || !r2.internal, !r2.ok ? r2.error : "");
      const sp = new FrameSplitter();
      sp.push(b);
      sp.expire();
      assert.equal(sp.internalErrors, 0);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("the defensive paths are observable: a throwing input is marked internal and counted", () => {
  // A Uint8Array whose indexing throws reaches the catch-all of both.
  const evil = new Proxy(new Uint8Array(40), {
    get(t, k) {
      if (k === "length") return 40;
      if (typeof k === "string" && /^[0-9]+$/.test(k)) throw new Error("boom");
      return Reflect.get(t, k);
    },
  });
  const r = decodeFrame(evil);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.internal, true);
  const sp = new FrameSplitter();
  assert.deepStrictEqual(sp.push(evil), []);
  assert.equal(sp.internalErrors, 1);
});

// ------------------------------------------------------------------------------------------------ resync

const P5_291 = encodePacket({
  kind: "translated",
  protocol: 5,
  datalog: DL,
  address: 1,
  fn: FN_READ_INPUT,
  serial: SN,
  register: 0,
  values: Array.from({ length: 127 }, (_, i) => (i * 37) & 0xffff),
  byteCountPresent: true,
});
const ECHO_38 = encodePacket({
  kind: "translated",
  protocol: 2,
  datalog: DL,
  address: 1,
  fn: FN_WRITE_SINGLE,
  serial: SN,
  register: 65,
  value: 35,
});

Deno.test("splitter: the first 60 bytes of a 291-byte frame, then a complete 38-byte write echo → the echo", () => {
  assert.equal(P5_291.length, 291);
  assert.equal(ECHO_38.length, 38);
  const echo = decodeOk(toHex(ECHO_38));
  // in one chunk
  const sp = new FrameSplitter();
  assert.deepStrictEqual(sp.push(concat([P5_291.subarray(0, 60), ECHO_38])), [echo]);
  assert.equal(sp.truncatedFrames, 1);
  assert.equal(sp.droppedBytes, 60);
  assert.equal(sp.buffered, 0);
  // as the dongle sends it: the truncated part, then the echo in its own read
  const sp2 = new FrameSplitter();
  assert.deepStrictEqual(sp2.push(P5_291.subarray(0, 60)), []);
  assert.deepStrictEqual(sp2.push(ECHO_38), [echo]);
  // and the stream carries on normally afterwards
  assert.equal(sp2.push(P5_291).length, 1);
  assert.equal(sp2.buffered, 0);
  assert.equal(sp2.badFrames, 0);
});

Deno.test("splitter: expire() gives up a frame that never completes; what follows is read normally", () => {
  const sp = new FrameSplitter();
  assert.deepStrictEqual(sp.push(P5_291.subarray(0, 100)), []);
  assert.equal(sp.buffered, 100);
  assert.deepStrictEqual(sp.expire(), []);
  assert.equal(sp.buffered, 0);
  assert.equal(sp.truncatedFrames, 1);
  assert.equal(sp.droppedBytes, 100);
  assert.equal(sp.push(ECHO_38).length, 1);
  // a heartbeat whose last byte is A1 waits for the next byte (it could start a frame); expire() delivers it
  const hb = encodePacket({ kind: "heartbeat", protocol: 2, datalog: DL, trailer: 0xa1 });
  assert.deepStrictEqual(sp.push(hb), []);
  assert.deepStrictEqual(sp.expire(), [decodeOk(toHex(hb))]);
  assert.equal(sp.push(concat([hb, ECHO_38])).length, 2);
  assert.equal(sp.internalErrors, 0);
});

Deno.test("property: any valid frame that follows any prefix of another frame is delivered", () => {
  fc.assert(
    fc.property(
      packetArb,
      fc.nat(),
      packetArb,
      fc.array(fc.nat(), { maxLength: 12 }),
      (first, cutAt, next, cuts) => {
        const a = encodePacket(first);
        const prefix = a.subarray(0, 1 + (cutAt % (a.length - 1))); // 1 … length−1 bytes
        const b = encodePacket(next);
        const sp = new FrameSplitter();
        const got: Packet[] = [];
        for (const c of cut(concat([prefix, b]), cuts)) got.push(...sp.push(c));
        got.push(...sp.expire());
        assert.deepStrictEqual(got.at(-1), next);
        assert.equal(sp.internalErrors, 0);
        assert.equal(sp.buffered, 0);
      },
    ),
    { numRuns: 5000 },
  );
});

function isSubsequence(got: Packet[], want: Packet[]): boolean {
  let i = 0;
  for (const g of got) {
    if (i < want.length) {
      try {
        assert.deepStrictEqual(g, want[i]);
        i++;
      } catch { /* extra packet */ }
    }
  }
  return i === want.length;
}

Deno.test("property: valid frames interleaved with garbage are all still found", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.uint8Array({ maxLength: 80 }), packetArb), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (items, cuts) => {
        const stream = concat(items.flatMap(([g, p]) => [g, encodePacket(p)]));
        const sp = new FrameSplitter();
        const got: Packet[] = [];
        for (const c of cut(stream, cuts)) got.push(...sp.push(c));
        got.push(...sp.expire());
        assert.ok(isSubsequence(got, items.map(([, p]) => p)), "valid frames missing");
        assert.equal(sp.internalErrors, 0);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("property: flipping any CRC-covered byte yields an error, not a wrong packet", () => {
  fc.assert(
    fc.property(translatedArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (p, at, x) => {
      const bytes = encodePacket(p);
      const i = 20 + (at % (bytes.length - 20)); // data frame and CRC
      bytes[i] ^= x;
      const r = decodeFrame(bytes);
      assert.equal(r.ok, false);
      const sp = new FrameSplitter();
      assert.equal(sp.push(bytes).length, 0);
      assert.equal(sp.badFrames, 1);
    }),
    { numRuns: 2000 },
  );
});
