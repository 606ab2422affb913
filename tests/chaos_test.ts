// The chaos soak, short: ~300 commands through the real `serve` under a random fault schedule (drops,
// garbage, bad CRCs, truncations, delays, exception replies, silent periods, dropped/garbled echoes, lost
// requests) and one broker restart of a real mosquitto. Only the correctness figures are asserted; the
// speed and memory figures belong to `deno task bench chaos` (tests/bench/chaos_soak.ts).

import assert from "node:assert/strict";
import { runChaosSoak } from "./bench/chaos_soak.ts";

Deno.test("chaos soak (short): every command answered exactly once, no false OK, no double write, no crash", async () => {
  const r = await runChaosSoak({ commands: 300, rate: 40, seed: 7, brokerRestartEveryS: 4 });
  const figures = JSON.stringify(r);
  assert.equal(r.commands_sent, 300, figures);
  assert.equal(r.commands_lost, 0, figures);
  assert.equal(r.results_duplicated, 0, figures);
  assert.equal(r.results_received, 300, figures);
  assert.equal(r.false_ok, 0, figures);
  assert.equal(r.writes_doubled, 0, figures);
  assert.equal(r.crashes, 0, figures);
  assert.ok(r.broker_restarts >= 1, figures);
  assert.ok(r.fault_phases >= 2, figures);
});
