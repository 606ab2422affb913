import assert from "node:assert/strict";
import fc from "fast-check";
import { roundTripJson } from "./helpers/json_arbitrary.ts";
import {
  compileFilter,
  filterMatches,
  filterMatchesLevels,
  isValidFilter,
  parseKeepalivePayload,
} from "../src/venus/keepalive.ts";
import {
  decodeWritePayload,
  deviceInstanceOf,
  encodeFullPublishCompleted,
  encodeValuePayload,
  isVictronService,
  notificationTopic,
  parseRequestTopic,
  relativeTopic,
  serviceType,
} from "../src/venus/topics.ts";
import {
  isInvalidVariant,
  itemsFromGetItems,
  itemsFromRootValue,
  jsonToVariant,
  parseSignature,
  signatureOf,
  valueFromPropertiesChanged,
  variantToJson,
} from "../src/venus/variant.ts";
import { topicMatches } from "../src/mqtt/topic.ts";
import { encodeVariantPayload, isBlockedItem, parseDeviceRef } from "../src/venus/topics.ts";
import { variantToJsonText } from "../src/venus/variant.ts";

const PORTAL = "e0ff50a097c0";

Deno.test("serviceType: third part of com.victronenergy names", () => {
  assert.equal(serviceType("com.victronenergy.vebus.ttyO1"), "vebus");
  assert.equal(serviceType("com.victronenergy.settings"), "settings");
  assert.equal(serviceType("com.victronenergy.pvinverter.cgwacs_ttyUSB0_mb1"), "pvinverter");
  assert.equal(serviceType("com.victronenergy."), undefined);
  assert.equal(serviceType("com.victronenergyX.vebus"), undefined);
  assert.equal(serviceType("org.freedesktop.DBus"), undefined);
  assert.equal(serviceType(":1.42"), undefined);
  assert.equal(isVictronService("com.victronenergy.system"), true);
  assert.equal(isVictronService("com.victronenergy"), false);
});

Deno.test("deviceInstanceOf: integer, else 0", () => {
  assert.equal(deviceInstanceOf({ signature: "i", value: 257 }), 257);
  assert.equal(deviceInstanceOf({ signature: "u", value: 20 }), 20);
  assert.equal(deviceInstanceOf({ signature: "x", value: 512n }), 512);
  assert.equal(deviceInstanceOf({ signature: "ai", value: [] }), 0);
  assert.equal(deviceInstanceOf({ signature: "d", value: 1.5 }), 0);
  assert.equal(deviceInstanceOf({ signature: "i", value: -3 }), 0);
  assert.equal(deviceInstanceOf(undefined), 0);
});

Deno.test("topics: the seed's examples", () => {
  assert.equal(
    notificationTopic(PORTAL, "pvinverter", 20, "/Ac/Power"),
    "N/e0ff50a097c0/pvinverter/20/Ac/Power",
  );
  assert.equal(relativeTopic("vebus", 257, "/Hub4/L1/AcPowerSetpoint"), "vebus/257/Hub4/L1/AcPowerSetpoint");
  assert.deepEqual(parseRequestTopic("W/e0ff50a097c0/vebus/257/Hub4/L1/AcPowerSetpoint", PORTAL), {
    kind: "write",
    portal: PORTAL,
    type: "vebus",
    instance: 257,
    path: "/Hub4/L1/AcPowerSetpoint",
  });
  assert.deepEqual(parseRequestTopic("R/e0ff50a097c0/pvinverter/20/Ac/Power", PORTAL), {
    kind: "read",
    portal: PORTAL,
    type: "pvinverter",
    instance: 20,
    path: "/Ac/Power",
  });
  assert.deepEqual(parseRequestTopic("R/e0ff50a097c0/keepalive", PORTAL), {
    kind: "keepalive",
    portal: PORTAL,
  });
  assert.deepEqual(parseRequestTopic("R/000000000000/system/0/Serial", PORTAL), {
    kind: "foreign",
    portal: "000000000000",
  });
});

Deno.test("parseRequestTopic: invalid topics", () => {
  const bad = (t: string, re: RegExp) => {
    const r = parseRequestTopic(t, PORTAL);
    assert.equal(r.kind, "invalid", t);
    assert.match((r as { reason: string }).reason, re, t);
  };
  bad("R/e0ff50a097c0/+/+/ProductId", /wildcards/);
  bad("W/e0ff50a097c0/vebus/257/#", /wildcards/);
  bad("R/+/system/0/Serial", /wildcards/);
  bad("R/e0ff50a097c0/vebus/257", /expected/);
  bad("R/e0ff50a097c0/vebus/x/Mode", /instance/);
  bad("R/e0ff50a097c0/vebus/257//Mode", /path/);
  bad("R/e0ff50a097c0/vebus/257/Mode/", /path/);
  bad("R/e0ff50a097c0/vebus/257/Mo-de", /path/);
  bad("W/e0ff50a097c0/keepalive", /keepalive/);
  bad("N/e0ff50a097c0/vebus/257/Mode", /not an R/);
  bad("R//vebus/257/Mode", /portal/);
});

Deno.test("property: N topic → R/W topic round trip", () => {
  const level = fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/);
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z0-9]{1,16}$/),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
      fc.integer({ min: 0, max: 999999999 }),
      fc.array(level, { minLength: 1, maxLength: 6 }),
      fc.constantFrom("R", "W"),
      (portal, type, instance, parts, head) => {
        const path = "/" + parts.join("/");
        const n = notificationTopic(portal, type, instance, path);
        assert.equal(n, `N/${portal}/${relativeTopic(type, instance, path)}`);
        const r = parseRequestTopic(head + n.slice(1), portal);
        assert.deepEqual(r, { kind: head === "R" ? "read" : "write", portal, type, instance, path });
        assert.equal(parseRequestTopic(head + n.slice(1), portal + "x").kind, "foreign");
      },
    ),
  );
});

Deno.test('payload encoding: {"value": x} with the seed\'s spacing', () => {
  assert.equal(encodeValuePayload(936), '{"value": 936}');
  assert.equal(encodeValuePayload(null), '{"value": null}');
  assert.equal(encodeValuePayload(NaN), '{"value": null}');
  assert.equal(encodeValuePayload(52.1), '{"value": 52.1}');
  assert.equal(encodeValuePayload("e0ff50a097c0"), '{"value": "e0ff50a097c0"}');
  assert.equal(encodeValuePayload({ "Ac/Power": 1, b: [1, 2] }), '{"value": {"Ac/Power":1,"b":[1,2]}}');
  assert.equal(encodeFullPublishCompleted(1700000000), '{"value": 1700000000}');
  assert.equal(
    encodeFullPublishCompleted(1700000000, "tok-1"),
    '{"full-publish-completed-echo":"tok-1","value":1700000000}',
  );
});

Deno.test("D-Bus values on the wire: doubles keep their type, ints stay ints (spec §2: 20.0, 52.1)", () => {
  const v = (signature: string, value: unknown) => encodeVariantPayload({ signature, value });
  assert.equal(v("d", 20), '{"value": 20.0}');
  assert.equal(v("d", 52.1), '{"value": 52.1}');
  assert.equal(v("d", -3), '{"value": -3.0}');
  assert.equal(v("d", 0), '{"value": 0.0}');
  assert.equal(v("d", -0), '{"value": -0.0}');
  assert.equal(v("d", 1e21), '{"value": 1e+21}');
  assert.equal(v("d", 1e-7), '{"value": 1e-7}');
  assert.equal(v("d", NaN), '{"value": null}');
  assert.equal(v("d", Infinity), '{"value": null}');
  assert.equal(v("i", 20), '{"value": 20}');
  assert.equal(v("u", 4294967295), '{"value": 4294967295}');
  assert.equal(v("x", -(2n ** 63n)), '{"value": -9223372036854775808}');
  assert.equal(v("t", 2n ** 64n - 1n), '{"value": 18446744073709551615}');
  assert.equal(v("y", 255), '{"value": 255}');
  assert.equal(v("b", true), '{"value": true}');
  assert.equal(v("s", 'a"b\u00e9'), '{"value": "a\\"b\u00e9"}');
  assert.equal(v("ai", []), '{"value": null}');
  assert.equal(v("ad", [1, 2.5]), '{"value": [1.0,2.5]}');
  assert.equal(v("ay", new Uint8Array([1, 2])), '{"value": [1,2]}');
  assert.equal(v("(di)", [3, 3]), '{"value": [3.0,3]}');
  assert.equal(v("v", { signature: "d", value: 7 }), '{"value": 7.0}');
  // nested: doubles inside arrays of variants and dictionaries
  assert.equal(
    v("a{sv}", {
      b: { signature: "d", value: 1 },
      a: { signature: "av", value: [{ signature: "d", value: 2 }, { signature: "i", value: 2 }] },
    }),
    '{"value": {"b":1.0,"a":[2.0,2]}}',
  );
  assert.equal(v("a{sd}", { x: 1 }), '{"value": {"x":1.0}}');
});

Deno.test("dictionary members keep their D-Bus order on the wire, also keys a JS object would reorder", () => {
  // [key, value] pairs: the decoder's form for such dictionaries (dbus_wire.ts)
  const pairs = {
    signature: "a{sv}",
    value: [["b", { signature: "i", value: 1 }], ["2", { signature: "i", value: 2 }], ["1", {
      signature: "d",
      value: 3,
    }]],
  };
  assert.equal(variantToJsonText(pairs), '{"b":1,"2":2,"1":3.0}');
  assert.equal(
    variantToJsonText({
      signature: "a{iv}",
      value: [[10, { signature: "s", value: "x" }], [2, { signature: "s", value: "y" }]],
    }),
    '{"10":"x","2":"y"}',
  );
  assert.equal(
    variantToJsonText({
      signature: "a{sv}",
      value: { zeta: { signature: "i", value: 1 }, alpha: { signature: "i", value: 2 } },
    }),
    '{"zeta":1,"alpha":2}',
  );
});

Deno.test("property: variantToJsonText is variantToJson's JSON, with every double written as a double", () => {
  const dbl = fc.double({ noNaN: true, noDefaultInfinity: true });
  const variant = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      dbl.map((x) => ({ signature: "d", value: x })),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((x) => ({ signature: "i", value: x })),
      fc.string().map((x) => ({ signature: "s", value: x })),
      fc.boolean().map((x) => ({ signature: "b", value: x })),
      fc.array(dbl, { minLength: 1, maxLength: 4 }).map((x) => ({ signature: "ad", value: x })),
      fc.array(tie("v"), { minLength: 1, maxLength: 3 }).map((x) => ({ signature: "av", value: x })),
      fc.dictionary(fc.string().filter((k) => k !== "__proto__"), tie("v"), { maxKeys: 3 }).map((x) => ({
        signature: "a{sv}",
        value: x,
      })),
    ),
  })).v as fc.Arbitrary<{ signature: string; value: unknown }>;
  fc.assert(fc.property(variant, (v) => {
    const text = variantToJsonText(v);
    assert.deepEqual(JSON.parse(text), variantToJson(v));
  }));
  fc.assert(fc.property(dbl, (x) => {
    const text = variantToJsonText({ signature: "d", value: x });
    assert.match(text, /[.e]/, `a double is written with a fraction or exponent (got ${text})`);
    assert.ok(Object.is(Number(text), x) || (x === 0 && Number(text) === 0), text);
  }));
});

Deno.test("blocked items (spec §1) and device references", () => {
  assert.equal(isBlockedItem("vebus", "/Interfaces/Mk2/Tunnel"), true);
  assert.equal(isBlockedItem("paygo", "/LVD/Threshold"), true);
  assert.equal(isBlockedItem("vebus", "/LVD/Threshold"), false);
  assert.equal(isBlockedItem("battery", "/Interfaces/Mk2/Tunnel"), false);
  assert.equal(isBlockedItem("vebus", "/Interfaces/Mk2"), false);
  assert.deepEqual(parseDeviceRef("battery/512"), { type: "battery", instance: 512 });
  assert.deepEqual(parseDeviceRef("battery/512/Dc/0/Voltage"), {
    type: "battery",
    instance: 512,
    path: "/Dc/0/Voltage",
  });
  for (
    const bad of ["battery", "battery/", "battery/x", "/512", "com.victronenergy.battery/1", "battery/-1"]
  ) {
    assert.equal(parseDeviceRef(bad), undefined, bad);
  }
});

Deno.test("decodeWritePayload", () => {
  assert.deepEqual(decodeWritePayload('{"value": -200}'), { ok: true, value: -200 });
  assert.deepEqual(decodeWritePayload('{"value": null}'), { ok: true, value: null });
  assert.deepEqual(decodeWritePayload('{"value": [1, 2]}'), { ok: true, value: [1, 2] });
  for (const bad of ["", "-200", "[1]", "null", '{"val": 1}', "{", '"x"']) {
    const r = decodeWritePayload(bad);
    assert.equal(r.ok, false, bad);
  }
  assert.match((decodeWritePayload("{") as { error: string }).error, /not JSON/);
  assert.match((decodeWritePayload('{"val": 1}') as { error: string }).error, /no "value"/);
});

Deno.test("variantToJson: spec §2 mapping", () => {
  assert.equal(variantToJson({ signature: "i", value: -5 }), -5);
  assert.equal(variantToJson({ signature: "y", value: 255 }), 255);
  assert.equal(variantToJson({ signature: "d", value: 936 }), 936);
  assert.equal(variantToJson({ signature: "d", value: NaN }), null);
  assert.equal(variantToJson({ signature: "d", value: Infinity }), null);
  assert.equal(variantToJson({ signature: "x", value: -9007199254740993n }), -9007199254740992);
  assert.equal(variantToJson({ signature: "t", value: 18446744073709551615n }), 18446744073709552000);
  assert.equal(variantToJson({ signature: "b", value: true }), true);
  assert.equal(variantToJson({ signature: "s", value: "MultiPlus" }), "MultiPlus");
  assert.equal(variantToJson({ signature: "o", value: "/a/b" }), "/a/b");
  // invalid = any empty array
  assert.equal(variantToJson({ signature: "ai", value: [] }), null);
  assert.equal(variantToJson({ signature: "au", value: [] }), null);
  assert.equal(variantToJson({ signature: "ay", value: new Uint8Array(0) }), null);
  assert.equal(isInvalidVariant({ signature: "ai", value: [] }), true);
  assert.equal(isInvalidVariant({ signature: "ai", value: [1] }), false);
  assert.equal(isInvalidVariant({ signature: "i", value: 0 }), false);
  assert.deepEqual(variantToJson({ signature: "ai", value: [1, 2, 3] }), [1, 2, 3]);
  assert.deepEqual(variantToJson({ signature: "ay", value: new Uint8Array([1, 2]) }), [1, 2]);
  assert.deepEqual(
    variantToJson({
      signature: "a{sv}",
      value: { a: { signature: "i", value: 1 }, b: { signature: "ai", value: [] } },
    }),
    { a: 1, b: null },
  );
  assert.deepEqual(variantToJson({ signature: "a{sv}", value: {} }), {});
  assert.deepEqual(variantToJson({ signature: "a{si}", value: [["x", 1]] }), { x: 1 });
  assert.deepEqual(variantToJson({ signature: "(is)", value: [1, "a"] }), [1, "a"]);
  assert.deepEqual(variantToJson({ signature: "a(id)", value: [[1, 2.5]] }), [[1, 2.5]]);
  assert.deepEqual(variantToJson({ signature: "v", value: { signature: "s", value: "x" } }), "x");
  assert.deepEqual(
    variantToJson({ signature: "av", value: [{ signature: "i", value: 1 }, { signature: "s", value: "a" }] }),
    [1, "a"],
  );
  assert.equal(variantToJson({ signature: "((", value: 1 }), null);
});

Deno.test("jsonToVariant: spec §2 mapping", () => {
  assert.deepEqual(jsonToVariant(-200), { signature: "i", value: -200 });
  assert.deepEqual(jsonToVariant(2147483647), { signature: "i", value: 2147483647 });
  assert.deepEqual(jsonToVariant(2147483648), { signature: "x", value: 2147483648n });
  assert.deepEqual(jsonToVariant(-2147483649), { signature: "x", value: -2147483649n });
  assert.deepEqual(jsonToVariant(1e300), { signature: "d", value: 1e300 });
  assert.deepEqual(jsonToVariant(52.5), { signature: "d", value: 52.5 });
  assert.deepEqual(jsonToVariant(true), { signature: "b", value: true });
  assert.deepEqual(jsonToVariant("12"), { signature: "s", value: "12" });
  assert.deepEqual(jsonToVariant(null), { signature: "ai", value: [] });
  assert.deepEqual(jsonToVariant([]), { signature: "au", value: [] });
  assert.deepEqual(jsonToVariant([1, 2]), { signature: "ai", value: [1, 2] });
  assert.deepEqual(jsonToVariant([1, 2.5]), { signature: "ad", value: [1, 2.5] });
  assert.deepEqual(jsonToVariant([1, 2 ** 40]), { signature: "ax", value: [1n, 2n ** 40n] });
  assert.deepEqual(jsonToVariant(["a", "b"]), { signature: "as", value: ["a", "b"] });
  assert.deepEqual(jsonToVariant([[1], [2]]), { signature: "aai", value: [[1], [2]] });
  assert.deepEqual(jsonToVariant([1, "a"]), {
    signature: "av",
    value: [{ signature: "i", value: 1 }, { signature: "s", value: "a" }],
  });
  assert.deepEqual(jsonToVariant({ a: 1 }), {
    signature: "a{sv}",
    value: { a: { signature: "i", value: 1 } },
  });
});

// "__proto__" as a key too: it must stay an ordinary key on the way through.
const jsonArb = roundTripJson({ maxItems: 4, keys: fc.oneof(fc.string(), fc.constant("__proto__")) });

Deno.test("property: JSON → variant → JSON is the identity", () => {
  fc.assert(
    fc.property(jsonArb, (j) => {
      const v = jsonToVariant(j);
      assert.equal(parseSignature(v.signature).length, 1);
      // (fast-check makes null-prototype objects; compare plain JSON copies)
      const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
      assert.deepEqual(plain(variantToJson(v)), plain(j));
      assert.equal(JSON.stringify(variantToJson(v)), JSON.stringify(j));
    }),
    { numRuns: 500 },
  );
});

Deno.test("property: signatures parse and print back", () => {
  fc.assert(
    fc.property(jsonArb, (j) => {
      const sig = jsonToVariant(j).signature;
      assert.equal(parseSignature(sig).map(signatureOf).join(""), sig);
    }),
  );
  assert.throws(() => parseSignature("a"), RangeError);
  assert.throws(() => parseSignature("(i"), RangeError);
  assert.throws(() => parseSignature("{si"), RangeError);
  assert.throws(() => parseSignature("z"), RangeError);
});

Deno.test("keep-alive payloads", () => {
  const base = { filters: null, options: false, suppressRepublish: false, unknownOptions: [] };
  assert.deepEqual(parseKeepalivePayload(""), { ok: true, value: base });
  assert.deepEqual(parseKeepalivePayload("  \n"), { ok: true, value: base });
  assert.deepEqual(parseKeepalivePayload("[]"), { ok: true, value: base });
  assert.deepEqual(parseKeepalivePayload('["vebus/#", "battery/+/Soc", "vebus/#"]'), {
    ok: true,
    value: { ...base, filters: ["vebus/#", "battery/+/Soc"] },
  });
  assert.deepEqual(parseKeepalivePayload('{"keepalive-options": ["suppress-republish"]}'), {
    ok: true,
    value: { ...base, options: true, suppressRepublish: true },
  });
  assert.deepEqual(parseKeepalivePayload('{"keepalive-options": [{"full-publish-completed-echo": "abc"}]}'), {
    ok: true,
    value: { ...base, options: true, echo: "abc" },
  });
  assert.deepEqual(parseKeepalivePayload('{"keepalive-options": ["x", {"y": 1}]}'), {
    ok: true,
    value: { ...base, options: true, unknownOptions: ['"x"', '{"y":1}'] },
  });
  for (const bad of ["{[", '{"a": 1}', "5", '"x"', "[1]", '["a//b"]', '["#/a"]', '["a+/b"]', "null"]) {
    assert.equal(parseKeepalivePayload(bad).ok, false, bad);
  }
});

Deno.test("filter matching", () => {
  assert.equal(filterMatches("vebus/#", "vebus/257/Hub4/L1/AcPowerSetpoint"), true);
  assert.equal(filterMatches("battery/+/Soc", "battery/512/Soc"), true);
  assert.equal(filterMatches("battery/+/Soc", "battery/512/Dc/0/Voltage"), false);
  assert.equal(filterMatches("+/+/ProductId", "pvinverter/20/ProductId"), true);
  assert.equal(filterMatches("#", "settings/0/Settings/CGwacs/Hub4Mode"), true);
  assert.equal(filterMatches("system/0/Serial", "system/0/Serial"), true);
  assert.equal(filterMatches("system/0", "system/0/Serial"), false);
  assert.equal(filterMatchesLevels(compileFilter("a/b/#"), ["a", "b"]), true);
  assert.equal(isValidFilter("a/+/#"), true);
  assert.equal(isValidFilter("a/#/b"), false);
  assert.equal(isValidFilter(""), false);
});

Deno.test("property: filter matching agrees with MQTT semantics", () => {
  const level = fc.stringMatching(/^[a-c0-2]{1,2}$/);
  const topicArb = fc.array(level, { minLength: 1, maxLength: 5 });
  const filterArb = fc.tuple(
    fc.array(fc.oneof(level, fc.constant("+")), { minLength: 1, maxLength: 5 }),
    fc.boolean(),
  ).map(([ls, hash]) => (hash ? [...ls, "#"] : ls).join("/"));
  fc.assert(
    fc.property(filterArb, topicArb, (f, t) => {
      const topic = t.join("/");
      assert.equal(filterMatches(f, topic), topicMatches(f, topic));
    }),
    { numRuns: 2000 },
  );
  // A topic matches itself, "#", and itself with any level replaced by "+".
  fc.assert(
    fc.property(topicArb, fc.nat(), (t, k) => {
      const topic = t.join("/");
      assert.equal(filterMatches(topic, topic), true);
      assert.equal(filterMatches("#", topic), true);
      const plus = [...t];
      plus[k % t.length] = "+";
      assert.equal(filterMatches(plus.join("/"), topic), true);
      assert.equal(filterMatches(t.slice(0, 1 + (k % t.length)).join("/") + "/#", topic), true);
    }),
  );
});

Deno.test("BusItem replies: GetItems, root GetValue, PropertiesChanged", () => {
  const items = itemsFromGetItems({
    "/Ac/Power": { Value: { signature: "d", value: 936 }, Text: { signature: "s", value: "936 W" } },
    "/Ac/L2/Power": { Value: { signature: "ai", value: [] } },
    "/NoValue": { Text: { signature: "s", value: "x" } },
    "bad path": { Value: { signature: "i", value: 1 } },
  });
  assert.equal(items.ok, true);
  assert.deepEqual([...(items as { value: Map<string, unknown> }).value.keys()], [
    "/Ac/Power",
    "/Ac/L2/Power",
  ]);
  assert.equal(itemsFromGetItems([1]).ok, false);
  assert.equal(itemsFromGetItems("x").ok, false);

  const root = itemsFromRootValue({
    signature: "a{sv}",
    value: { "Ac/Power": { signature: "d", value: 1 }, "ProductId": { signature: "i", value: 0xa142 } },
  });
  assert.equal(root.ok, true);
  assert.deepEqual([...(root as { value: Map<string, unknown> }).value.entries()], [
    ["/Ac/Power", { signature: "d", value: 1 }],
    ["/ProductId", { signature: "i", value: 0xa142 }],
  ]);
  assert.equal(itemsFromRootValue({ signature: "i", value: 1 }).ok, false);
  assert.equal(itemsFromRootValue(7).ok, false);

  assert.deepEqual(
    valueFromPropertiesChanged({ Value: { signature: "i", value: 3 }, Text: { signature: "s", value: "3" } }),
    {
      signature: "i",
      value: 3,
    },
  );
  assert.equal(valueFromPropertiesChanged({ Text: { signature: "s", value: "3" } }), undefined);
  assert.equal(valueFromPropertiesChanged(null), undefined);
});
