import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { Dashboard } from "../src/tui/app.tsx";
import { applyMessage, dbusTree, emptyState, holdingRows } from "../src/tui/state.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function sampleState() {
  const s = emptyState("octolux");
  applyMessage(s, "octolux/status", enc("online"));
  applyMessage(s, "octolux/inverter", enc("online"));
  applyMessage(s, "octolux/inputs/1", enc('{"status":32,"v_bat":49.4,"soc":53}'));
  applyMessage(s, "octolux/hold/65", enc("50"));
  applyMessage(s, "octolux/hold/21", enc("62292"));
  applyMessage(s, "octolux/result/discharge_pct", enc("OK"));
  applyMessage(s, "N/e0ff50a097c0/pvinverter/20/Ac/Power", enc('{"value": 936}'));
  applyMessage(s, "N/e0ff50a097c0/pvinverter/20/Ac/L2/Power", enc('{"value": null}'));
  applyMessage(s, "N/e0ff50a097c0/system/0/Serial", enc('{"value": "e0ff50a097c0"}'));
  return s;
}

Deno.test("dashboard state reads the link state from the availability document octolux/status", () => {
  const s = emptyState("octolux");
  applyMessage(s, "octolux/status", enc("inverter_offline"));
  assert.deepEqual([s.bridge, s.inverter], ["online", "offline"]);
  applyMessage(s, "octolux/status", enc("online"));
  assert.deepEqual([s.bridge, s.inverter], ["online", "online"]);
  applyMessage(s, "octolux/inverter", enc("")); // clearing an old retained copy
  assert.equal(s.inverter, "online");
  applyMessage(s, "octolux/status", enc("offline"));
  assert.deepEqual([s.bridge, s.inverter], ["offline", "?"]);
});

Deno.test("dashboard state folds the bridges' topics", () => {
  const s = sampleState();
  assert.equal(s.bridge, "online");
  assert.deepEqual(s.inputs["1"], { status: 32, v_bat: 49.4, soc: 53 });
  assert.equal(s.portal, "e0ff50a097c0");
  assert.deepEqual(s.results[0].command, "discharge_pct");
  const rows = holdingRows(s);
  assert.deepEqual(rows.map((r) => r.register), [21, 65]);
  assert.match(rows[1].value, /^50 ?%$/);
  assert.deepEqual(dbusTree(s), [
    {
      service: "pvinverter/20",
      items: [{ path: "Ac/L2/Power", value: "null" }, { path: "Ac/Power", value: "936" }],
    },
    { service: "system/0", items: [{ path: "Serial", value: '"e0ff50a097c0"' }] },
  ]);
  // an empty payload (device gone) removes the value
  applyMessage(s, "N/e0ff50a097c0/pvinverter/20/Ac/Power", new Uint8Array());
  assert.equal(s.dbus.has("pvinverter/20/Ac/Power"), false);
});

Deno.test("dashboard renders panes and switches with keys", async () => {
  const s = sampleState();
  let refreshed = 0;
  const ui = render(
    <Dashboard getState={() => s} getLog={() => []} refresh={() => refreshed++} tickMs={20} rows={10} />,
  );
  try {
    const wait = () => new Promise((r) => setTimeout(r, 80));
    await wait();
    let frame = ui.lastFrame() ?? "";
    assert.match(frame, /inputs\/1/);
    assert.match(frame, /v_bat\s+49\.4 V/);
    ui.stdin.write("2");
    await wait();
    frame = ui.lastFrame() ?? "";
    assert.match(frame, /65 .*50/);
    ui.stdin.write("3");
    await wait();
    frame = ui.lastFrame() ?? "";
    assert.match(frame, /pvinverter\/20/);
    assert.match(frame, /Ac\/Power\s+936/);
    ui.stdin.write("r");
    await wait();
    assert.equal(refreshed, 1);
  } finally {
    ui.unmount();
    ui.cleanup();
  }
});
