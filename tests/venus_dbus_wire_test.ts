// D-Bus receive path: the pure splitter/decoder (dbus_wire.ts) against dbus-next's own encoder and decoder,
// and the fast signal path (dbus_conn.ts) with real signals on a real dbus-daemon.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import dbus from "dbus-next";
import marshallCompat from "dbus-next/lib/marshall-compat.js";
import messageCodec from "dbus-next/lib/message.js";
import {
  DbusMessageSplitter,
  DbusWireError,
  decodeHeader,
  decodeMessage,
  messageLength,
  parseSignatureCached,
} from "../src/venus/dbus_wire.ts";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { BUS_ITEM, DbusMessageClass, type DbusSignal, RawBus } from "../src/venus/bus.ts";
import { variantToJsonText } from "../src/venus/variant.ts";
import { until as waitUntil, withTimeout } from "./helpers/wait.ts";

const until = (pred: () => boolean, what: string, ms = 10_000) => waitUntil(pred, what, ms);

const { Variant, Message } = dbus;
const TEST_TIMEOUT_MS = 30_000;

/** A signal encoded by dbus-next's marshaller (what goes on the wire). */
function encodeSignal(
  path: string,
  iface: string,
  member: string,
  signature: string,
  body: unknown[],
  serial = 7,
): Uint8Array {
  const m = Message.newSignal(path, iface, member, signature, body);
  m.serial = serial;
  const [data] = marshallCompat.marshallMessage(m);
  return new Uint8Array(data);
}

/** dbus-next's decoding of a complete message with a body (header fields + body in its connection's format). */
function dbusNextDecode(bytes: Uint8Array): Record<string, unknown> {
  return marshallCompat.messageToJsFmt(messageCodec.unmarshall(Buffer.from(bytes)));
}

// ------------------------------------------------------------------------------------------------
// Typed values in dbus-next's format

type Typed = { sig: string; value: unknown };

const str = fc.string({ maxLength: 12 }).filter((s) => !s.includes("\0"));
const key = str.filter((s) => s !== "__proto__");
const objPath = fc.array(fc.stringMatching(/^[A-Za-z0-9_]{1,6}$/), { maxLength: 3 }).map((p) =>
  "/" + p.join("/")
);

const basic: fc.Arbitrary<Typed> = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((v) => ({ sig: "y", value: v })),
  fc.boolean().map((v) => ({ sig: "b", value: v })),
  fc.integer({ min: -32768, max: 32767 }).map((v) => ({ sig: "n", value: v })),
  fc.integer({ min: 0, max: 65535 }).map((v) => ({ sig: "q", value: v })),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => ({ sig: "i", value: v })),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((v) => ({ sig: "u", value: v })),
  // dbus-next's encoder refuses INT64_MIN (its lower bound is -(2^63 - 1)); decoding it is tested exactly below
  fc.bigInt({ min: -(2n ** 63n) + 1n, max: 2n ** 63n - 1n }).map((v) => ({ sig: "x", value: v })),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => ({ sig: "t", value: v })),
  // dbus-next's encoder refuses NaN and ±Infinity; the decoder's handling of those is tested exactly below
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => ({ sig: "d", value: v })),
  str.map((v) => ({ sig: "s", value: v })),
  objPath.map((v) => ({ sig: "o", value: v })),
  fc.constantFrom("", "s", "a{sv}", "(ii)", "v").map((v) => ({ sig: "g", value: v })),
);

/** Values of one signature (for array elements). */
function ofSig(sig: string, depth: number): fc.Arbitrary<unknown> {
  return typed(depth).filter((t) => t.sig === sig).map((t) => t.value);
}

function typed(depth: number): fc.Arbitrary<Typed> {
  if (depth <= 0) return basic;
  const inner = typed(depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: basic },
    inner.map((t) => ({ sig: "v", value: new Variant(t.sig, t.value) })),
    fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 9 }).map((a) => ({
      sig: "ay",
      value: Buffer.from(a),
    })),
    // homogeneous arrays: one element type, several values
    basic.chain((t) =>
      fc.array(ofSig(t.sig, 0), { maxLength: 4 }).map((rest) => ({
        sig: "a" + t.sig,
        value: [t.value, ...rest],
      }))
    ),
    fc.array(inner.map((t) => new Variant(t.sig, t.value)), { maxLength: 3 }).map((a) => ({
      sig: "av",
      value: a,
    })),
    fc.array(fc.tuple(fc.integer({ min: -5, max: 5 }), str), { maxLength: 3 }).map((a) => ({
      sig: "a(is)",
      value: a,
    })),
    // keys a JS object keeps in order (index-like keys are decoded as pairs: tested below)
    fc.dictionary(
      key.filter((k) => !/^(0|[1-9]\d*)$/.test(k)),
      inner.map((t) => new Variant(t.sig, t.value)),
      {
        maxKeys: 4,
      },
    ).map((o) => ({
      sig: "a{sv}",
      value: { ...o },
    })),
    fc.array(inner, { minLength: 1, maxLength: 3 }).map((ts) => ({
      sig: `(${ts.map((t) => t.sig).join("")})`,
      value: ts.map((t) => t.value),
    })),
  );
}

// ------------------------------------------------------------------------------------------------

Deno.test("wire: a dictionary with index-like keys decodes as [key, value] pairs in D-Bus order", () => {
  // dbus-next marshals a{..} from a JS object (index-like keys first), so the D-Bus order b, 2, 1 is made by
  // sending keys b, x, y and patching the one-byte keys x → 2, y → 1 in the bytes.
  const bytes = encodeSignal("/x", BUS_ITEM, "PropertiesChanged", "a{sv}", [{
    b: new Variant("i", 1),
    x: new Variant("i", 2),
    y: new Variant("d", 3),
  }]);
  const patch = (from: number, to: number) => {
    for (let k = 0; k + 5 < bytes.length; k++) {
      if (
        bytes[k] === 1 && bytes[k + 1] === 0 && bytes[k + 2] === 0 && bytes[k + 3] === 0 &&
        bytes[k + 4] === from && bytes[k + 5] === 0
      ) {
        bytes[k + 4] = to;
        return;
      }
    }
    throw new Error(`key ${String.fromCharCode(from)} not found`);
  };
  patch(0x78, 0x32); // "x" → "2"
  patch(0x79, 0x31); // "y" → "1"
  const body = decodeMessage(bytes).body[0];
  assert.deepEqual(body, [["b", new Variant("i", 1)], ["2", new Variant("i", 2)], [
    "1",
    new Variant("d", 3),
  ]]);
  // … and the wire JSON keeps that order (a JS object would give {"1":…,"2":…,"b":…})
  assert.equal(variantToJsonText({ signature: "a{sv}", value: body }), '{"b":1,"2":2,"1":3.0}');
  // plain string keys stay a plain object (the common case: PropertiesChanged {Value, Text})
  const plain = decodeMessage(
    encodeSignal("/x", BUS_ITEM, "PropertiesChanged", "a{sv}", [{
      zeta: new Variant("i", 1),
      alpha: new Variant("i", 2),
    }]),
  ).body[0];
  assert.deepEqual(Object.keys(plain as object), ["zeta", "alpha"]);
});

Deno.test("wire: bodies decode exactly as dbus-next decodes them (property)", () => {
  fc.assert(
    fc.property(fc.array(typed(2), { minLength: 1, maxLength: 4 }), (ts) => {
      const sig = ts.map((t) => t.sig).join("");
      const bytes = encodeSignal("/Ac/Power", BUS_ITEM, "PropertiesChanged", sig, ts.map((t) => t.value));
      const mine = decodeMessage(bytes);
      const theirs = dbusNextDecode(bytes);
      assert.deepEqual(mine.body, theirs.body);
      assert.equal(mine.signature, sig);
      assert.equal(mine.path, "/Ac/Power");
      assert.equal(mine.interface, BUS_ITEM);
      assert.equal(mine.member, "PropertiesChanged");
      assert.equal(mine.serial, 7);
      assert.equal(mine.type, 4);
    }),
    { numRuns: 300 },
  );
});

Deno.test("wire: a PropertiesChanged body and header fields, exact values", () => {
  const bytes = encodeSignal("/Dc/0/Voltage", BUS_ITEM, "PropertiesChanged", "a{sv}", [{
    Value: new Variant("d", 52.5),
    Text: new Variant("s", "52.5 V"),
  }], 42);
  assert.equal(messageLength(bytes, 0), bytes.length);
  const h = decodeHeader(bytes);
  assert.equal(h.serial, 42);
  assert.equal(h.littleEndian, true);
  assert.equal(h.signature, "a{sv}");
  assert.equal(h.bodyOffset + h.bodyLength, bytes.length);
  const m = decodeMessage(bytes);
  assert.deepEqual(m.body, [{ Value: new Variant("d", 52.5), Text: new Variant("s", "52.5 V") }]);
  assert.ok((m.body[0] as Record<string, unknown>).Value instanceof Variant);
});

Deno.test("wire: values dbus-next cannot encode (±Infinity, NaN, INT64_MIN) decode from their bytes", () => {
  for (const value of [Infinity, -Infinity, NaN]) {
    const bytes = encodeSignal("/x", BUS_ITEM, "PropertiesChanged", "d", [1.5]);
    new DataView(bytes.buffer, bytes.byteOffset).setFloat64(bytes.length - 8, value, true);
    assert.deepEqual(decodeMessage(bytes).body, [value]);
  }
  const bytes = encodeSignal("/x", BUS_ITEM, "PropertiesChanged", "x", [1n]);
  new DataView(bytes.buffer, bytes.byteOffset).setBigInt64(bytes.length - 8, -(2n ** 63n), true);
  assert.deepEqual(decodeMessage(bytes).body, [-(2n ** 63n)]);
});

Deno.test("wire: big-endian message (hand-built)", () => {
  // BE signal, serial 3, fields: PATH "/a", MEMBER "M", SIGNATURE "u"; body u32 0x01020304
  const f: number[] = [];
  const pad8 = () => {
    while (f.length % 8) f.push(0);
  };
  f.push(1, 1, 0x6f, 0, 0, 0, 0, 2, 0x2f, 0x61, 0); // PATH o "/a"
  pad8();
  f.push(3, 1, 0x73, 0, 0, 0, 0, 1, 0x4d, 0); // MEMBER s "M"
  pad8();
  f.push(8, 1, 0x67, 0, 1, 0x75, 0); // SIGNATURE g "u"
  const fieldsLen = f.length;
  pad8();
  const hdr = [0x42, 4, 0, 1, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, fieldsLen];
  const bytes = new Uint8Array([...hdr, ...f, 1, 2, 3, 4]);
  const m = decodeMessage(bytes);
  assert.equal(m.littleEndian, false);
  assert.equal(m.serial, 3);
  assert.equal(m.path, "/a");
  assert.equal(m.member, "M");
  assert.deepEqual(m.body, [0x01020304]);
});

Deno.test("wire: garbage is refused", () => {
  assert.throws(() => messageLength(new Uint8Array(16), 0), DbusWireError);
  assert.throws(() => new DbusMessageSplitter().push(new Uint8Array(20).fill(0x41), () => {}), DbusWireError);
  assert.throws(() => parseSignatureCached("a{sv"), DbusWireError);
  assert.throws(() => parseSignatureCached("(z)"), DbusWireError);
  // declared length beyond the 128 MiB limit
  const b = encodeSignal("/x", BUS_ITEM, "PropertiesChanged", "s", ["a"]);
  new DataView(b.buffer).setUint32(4, 2 ** 28, true);
  assert.throws(() => messageLength(b, 0), /128 MiB/);
});

Deno.test("wire: the splitter gives the same messages however the stream is cut (property)", () => {
  const msgs = [
    encodeSignal("/a", BUS_ITEM, "PropertiesChanged", "a{sv}", [{ Value: new Variant("i", 1) }], 1),
    encodeSignal("/b/c", BUS_ITEM, "PropertiesChanged", "a{sv}", [{
      Value: new Variant("s", "x".repeat(300)),
    }], 2),
    encodeSignal("/", BUS_ITEM, "ItemsChanged", "a{sa{sv}}", [{ "/p": { Value: new Variant("d", 1.5) } }], 3),
    encodeSignal("/d", "org.example.X", "Y", "", [], 4),
  ];
  const all = new Uint8Array(msgs.reduce((n, m) => n + m.length, 0));
  let o = 0;
  for (const m of msgs) all.set(m, o), o += m.length;
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: all.length }), { maxLength: 12 }), (cuts) => {
      const points = [...new Set([0, ...cuts, all.length])].sort((a, b) => a - b);
      const sp = new DbusMessageSplitter();
      const got: Uint8Array[] = [];
      for (let i = 1; i < points.length; i++) {
        sp.push(all.subarray(points[i - 1], points[i]), (m) => got.push(m.slice()));
      }
      assert.equal(sp.buffered, 0);
      assert.deepEqual(got, msgs);
    }),
    { numRuns: 300 },
  );
  // byte by byte
  const sp = new DbusMessageSplitter();
  const got: Uint8Array[] = [];
  for (let i = 0; i < all.length; i++) sp.push(all.subarray(i, i + 1), (m) => got.push(m.slice()));
  assert.deepEqual(got, msgs);
});

// ------------------------------------------------------------------------------------------------
// Real daemon

Deno.test({
  name:
    "fast signal path on a real dbus-daemon: bursts (several per read), big signals (split across reads), other signals",
  sanitizeOps: true,
  sanitizeResources: true,
  fn: () =>
    withTimeout(
      (async () => {
        const bus = await startDbusDaemon();
        let rx: RawBus | undefined, tx: RawBus | undefined;
        try {
          rx = await RawBus.connect({ address: bus.address });
          tx = await RawBus.connect({ address: bus.address });
          const got: DbusSignal[] = [];
          rx.onSignal((s) => {
            if (s.sender === tx!.uniqueName) got.push(s);
          });
          await rx.addMatch(`type='signal',interface='${BUS_ITEM}'`);
          await rx.addMatch(`type='signal',interface='org.example.Other'`);
          const before = rx.wireStats;

          // 1. a burst of 500 small signals written at once: they arrive in far fewer reads
          const N = 500;
          for (let i = 0; i < N; i++) {
            tx.send(DbusMessageClass.newSignal(`/Load/P${i}`, BUS_ITEM, "PropertiesChanged", "a{sv}", [{
              Value: new Variant("d", i + 0.25),
              Text: new Variant("s", `${i} W`),
            }]));
          }
          await until(() => got.length === N, "the burst");
          for (let i = 0; i < N; i++) {
            assert.equal(got[i].path, `/Load/P${i}`);
            assert.equal(got[i].member, "PropertiesChanged");
            assert.equal(got[i].interface, BUS_ITEM);
            assert.deepEqual(got[i].body, [{
              Value: new Variant("d", i + 0.25),
              Text: new Variant("s", `${i} W`),
            }]);
          }
          const mid = rx.wireStats;
          assert.equal(mid.fast - before.fast, N);
          assert.ok(
            mid.chunks - before.chunks < N,
            `several signals per read (${mid.chunks - before.chunks} reads for ${N})`,
          );

          // 2. big ItemsChanged signals (~400 KB each): each arrives in several reads
          got.length = 0;
          const items: Record<string, Record<string, InstanceType<typeof Variant>>> = {};
          for (let i = 0; i < 4000; i++) {
            items[`/Big/Path/Number/${i}`] = {
              Value: new Variant("s", "v".repeat(40) + i),
              Text: new Variant("s", `${i}`),
            };
          }
          for (let k = 0; k < 3; k++) {
            tx.send(DbusMessageClass.newSignal("/", BUS_ITEM, "ItemsChanged", "a{sa{sv}}", [items]));
          }
          await until(() => got.length === 3, "the big signals");
          for (const s of got) assert.deepEqual(s.body, [items]);
          const after = rx.wireStats;
          assert.equal(after.fast - mid.fast, 3);
          assert.ok(
            after.chunks - mid.chunks > 3,
            `big signals split across reads (${after.chunks - mid.chunks} reads)`,
          );

          // 3. a signal of another interface goes through dbus-next (a Message), a call still works
          got.length = 0;
          tx.send(DbusMessageClass.newSignal("/o", "org.example.Other", "Ping", "su", ["hi", 7]));
          await until(() => got.length === 1, "the other signal");
          assert.ok(got[0] instanceof DbusMessageClass);
          assert.deepEqual(got[0].body, ["hi", 7]);
          assert.equal(rx.wireStats.fast, after.fast);
          assert.ok((await rx.listNames()).includes(tx.uniqueName));
          assert.equal(rx.wireStats.listenerErrors, 0);
        } finally {
          await tx?.close();
          await rx?.close();
          await bus.stop();
        }
      })(),
      TEST_TIMEOUT_MS,
      "fast signal path",
    ),
});
