import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeSlotTime,
  encodeSlotTime,
  findSlotKind,
  formatSlot,
  parseSlot,
  SLOT_KINDS,
  slotJson,
  slotRegisters,
} from "../src/lxp/slots.ts";

Deno.test("slot registers as spec §4 lists them (start/end per slot)", () => {
  const table = SLOT_KINDS.map((k) => [k.name, [1, 2, 3].map((n) => slotRegisters(k, n))]);
  assert.deepEqual(table, [
    ["ac_charge", [{ start: 68, end: 69 }, { start: 70, end: 71 }, { start: 72, end: 73 }]],
    ["ac_first", [{ start: 152, end: 153 }, { start: 154, end: 155 }, { start: 156, end: 157 }]],
    ["charge_priority", [{ start: 76, end: 77 }, { start: 78, end: 79 }, { start: 80, end: 81 }]],
    ["forced_discharge", [{ start: 84, end: 85 }, { start: 86, end: 87 }, { start: 88, end: 89 }]],
  ]);
});

Deno.test("slot time: value = hour + 256·minute", () => {
  assert.equal(encodeSlotTime({ hour: 23, minute: 30 }), 23 + 256 * 30);
  assert.deepEqual(decodeSlotTime(5 + 256 * 30), { hour: 5, minute: 30 });
});

Deno.test("parseSlot: both text forms; bad times name the value", () => {
  const want = { start: { hour: 23, minute: 30 }, end: { hour: 5, minute: 30 } };
  assert.deepEqual(parseSlot("23:30-05:30"), want);
  assert.deepEqual(parseSlot(" 23:30-5:30\n"), want);
  assert.deepEqual(parseSlot('{"start":"23:30","end":"05:30"}'), want);
  assert.equal(formatSlot(want), "23:30-05:30");
  assert.equal(slotJson(want), '{"start":"23:30","end":"05:30"}');
  assert.equal(parseSlot("25:00-06:00"), 'hour 25 in "25:00" is not 0–23');
  assert.equal(parseSlot("12:60-13:00"), 'minute 60 in "12:60" is not 0–59');
  assert.equal(parseSlot("garbage"), '"garbage" is not HH:MM-HH:MM');
  assert.equal(
    parseSlot('{"start":"01:00"}'),
    '"{\\"start\\":\\"01:00\\"}" needs "start" and "end" as "HH:MM" strings',
  );
  for (
    const bad of [
      "",
      "1:00",
      "01:00-",
      "-01:00",
      "01:00-02:00-03:00",
      "0x1:00-02:00",
      "\u00a001:00-02:00",
      "{",
    ]
  ) {
    assert.equal(typeof parseSlot(bad), "string", bad);
  }
  assert.equal(findSlotKind("ac_charge")?.registerKey, "ac_charge");
  assert.equal(findSlotKind("nope"), undefined);
});

Deno.test("property: format → parse round trip; every register value decodes to what it encodes", () => {
  const time = fc.record({ hour: fc.integer({ min: 0, max: 23 }), minute: fc.integer({ min: 0, max: 59 }) });
  fc.assert(fc.property(time, time, (a, b) => {
    const start = { ...a }, end = { ...b }; // plain objects (fast-check's records have no prototype)
    assert.deepEqual(parseSlot(formatSlot({ start, end })), { start, end });
    assert.deepEqual(parseSlot(slotJson({ start, end })), { start, end });
    assert.deepEqual(decodeSlotTime(encodeSlotTime(start)), start);
  }));
});
