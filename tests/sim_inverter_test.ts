// The inverter simulator spoken to with raw sockets and the pure codec (no LxpClient involved).
import { until, withTimeout } from "./helpers/wait.ts";
import assert from "node:assert/strict";
import { type InverterSimOptions, InverterSimulator } from "../src/sim/inverter.ts";
import {
  encodePacket,
  FrameSplitter,
  type Packet,
  readRequest,
  type TranslatedData,
  writeSingleRequest,
} from "../src/lxp/frame.ts";
import { silentLogger } from "../src/log.ts";

import { startTestSimulator, TEST_DATALOG as DL, TEST_SERIAL as SN } from "./helpers/inverter_sim.ts";

class Raw {
  private splitter = new FrameSplitter();
  readonly packets: Packet[] = [];
  private loop: Promise<void>;
  constructor(readonly conn: Deno.TcpConn) {
    this.loop = (async () => {
      const buf = new Uint8Array(8192);
      while (true) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch {
          break;
        }
        if (n === null) break;
        this.packets.push(...this.splitter.push(buf.slice(0, n)));
      }
    })();
  }
  static async open(port: number): Promise<Raw> {
    return new Raw(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  async send(p: Packet): Promise<void> {
    const b = encodePacket(p);
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }
  async next(pred: (p: Packet) => boolean = () => true, ms = 3000): Promise<Packet> {
    await until(() => this.packets.some(pred), "a matching packet", ms, () => this.packets);
    return this.packets.splice(this.packets.findIndex(pred), 1)[0];
  }
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.loop;
  }
  get splitterStats() {
    return { bad: this.splitter.badFrames, dropped: this.splitter.droppedBytes };
  }
}

function simTest(
  name: string,
  fn: (sim: InverterSimulator, port: number, raws: Raw[]) => Promise<void>,
  opts: InverterSimOptions = {},
) {
  Deno.test({
    name,
    sanitizeOps: true,
    sanitizeResources: true,
    async fn() {
      const { sim, port } = await startTestSimulator({ heartbeatInterval: 0, seed: 42, ...opts });
      const raws: Raw[] = [];
      try {
        await withTimeout(fn(sim, port, raws), 20_000, name);
      } finally {
        for (const r of raws) await r.close();
        await sim.stop();
      }
    },
  });
}

const rd = (
  fn: 3 | 4,
  register: number,
  count: number,
  o: Partial<{ datalog: string; serial: string }> = {},
) => readRequest({ datalog: o.datalog ?? DL, serial: o.serial ?? SN, fn, register, count });
const isT = (p: Packet): p is TranslatedData => p.kind === "translated";

simTest("read replies: protocol 2, byte count, values from the register file", async (sim, port, raws) => {
  const r = await Raw.open(port);
  raws.push(r);
  await r.send(rd(3, 0, 40));
  const p = (await r.next(isT)) as TranslatedData;
  assert.equal(p.protocol, 2);
  assert.equal(p.address, 1);
  assert.equal(p.fn, 3);
  assert.equal(p.register, 0);
  assert.equal(p.byteCountPresent, true);
  assert.equal(p.values!.length, 40);
  assert.equal(p.values![21], 62292);
  for (const count of [1, 7, 40, 80, 125, 127]) {
    await r.send(rd(4, 0, count));
    const q = (await r.next(isT)) as TranslatedData;
    assert.equal(q.values!.length, count);
    assert.deepEqual(q.values, Array.from(sim.inputs.subarray(0, count)));
  }
  // serial in hold 2–6 and input 115–119
  await r.send(rd(3, 2, 5));
  const s = (await r.next(isT)) as TranslatedData;
  assert.equal(s.values!.map((v) => String.fromCharCode(v & 0xff, v >> 8)).join(""), SN);
  await r.send(rd(4, 115, 5));
  const s2 = (await r.next(isT)) as TranslatedData;
  assert.equal(s2.values!.map((v) => String.fromCharCode(v & 0xff, v >> 8)).join(""), SN);
  // holding defaults
  await r.send(rd(3, 64, 4));
  assert.deepEqual(((await r.next(isT)) as TranslatedData).values, [100, 100, 100, 100]);
});

simTest("new firmware replies with protocol 5", async (_sim, port, raws) => {
  const r = await Raw.open(port);
  raws.push(r);
  await r.send(rd(4, 0, 127));
  const p = (await r.next(isT)) as TranslatedData;
  assert.equal(p.protocol, 5);
  assert.equal(p.values!.length, 127);
}, { firmware: "new" });

simTest("out-of-file reads and bad counts get exception replies", async (_sim, port, raws) => {
  const r = await Raw.open(port);
  raws.push(r);
  await r.send(rd(3, 239, 2));
  let p = (await r.next(isT)) as TranslatedData;
  assert.equal(p.fn, 0x83);
  assert.equal(p.exceptionCode, 2);
  await r.send(rd(4, 150, 20));
  p = (await r.next(isT)) as TranslatedData;
  assert.equal(p.fn, 0x84);
  assert.equal(p.exceptionCode, 2);
  await r.send(rd(3, 0, 128));
  p = (await r.next(isT)) as TranslatedData;
  assert.equal(p.exceptionCode, 3);
  await r.send(writeSingleRequest({ datalog: DL, serial: SN, register: 240, value: 1 }));
  p = (await r.next(isT)) as TranslatedData;
  assert.equal(p.fn, 0x86);
  assert.equal(p.exceptionCode, 2);
  // the last register of each bank is fine
  await r.send(rd(3, 239, 1));
  assert.equal(((await r.next(isT)) as TranslatedData).fn, 3);
  await r.send(rd(4, 159, 1));
  assert.equal(((await r.next(isT)) as TranslatedData).fn, 4);
});

simTest("wrong datalog or serial is ignored; replies go to every client", async (sim, port, raws) => {
  const a = await Raw.open(port);
  const b = await Raw.open(port);
  raws.push(a, b);
  await a.send(rd(3, 21, 1, { serial: "9999999999" }));
  await a.send(rd(3, 21, 1, { datalog: "XX00000000" }));
  await a.send(rd(3, 22, 1));
  const p = (await a.next(isT)) as TranslatedData;
  assert.equal(p.register, 22, "only the correctly addressed request was answered");
  const q = (await b.next(isT)) as TranslatedData;
  assert.equal(q.register, 22, "the other client sees the reply too");
  assert.equal(sim.stats.ignored, 2);
  assert.equal(sim.received.length, 1);
});

simTest("writes: single echo, multi count", async (sim, port, raws) => {
  const r = await Raw.open(port);
  raws.push(r);
  await r.send(writeSingleRequest({ datalog: DL, serial: SN, register: 66, value: 80 }));
  const e = (await r.next(isT)) as TranslatedData;
  assert.equal(e.fn, 6);
  assert.equal(e.value, 80);
  assert.equal(sim.holdings[66], 80);
  await r.send({
    kind: "translated",
    protocol: 2,
    datalog: DL,
    address: 0,
    fn: 0x10,
    serial: SN,
    register: 68,
    count: 2,
    values: [0x0016, 0x1e05],
  });
  const m = (await r.next(isT)) as TranslatedData;
  assert.equal(m.fn, 0x10);
  assert.equal(m.count, 2);
  assert.deepEqual([sim.holdings[68], sim.holdings[69]], [0x0016, 0x1e05]);
});

Deno.test({
  name:
    "physics: AC charge raises SOC from the grid, forced discharge lowers it, hold 65 = 0 stops discharge",
  sanitizeOps: true,
  sanitizeResources: true,
  fn() {
    // 02:00 local: no PV
    const night = () => {
      const d = new Date();
      d.setHours(2, 0, 0, 0);
      return d;
    };
    const sim = new InverterSimulator(
      { port: 0, clock: night, interval: 0, heartbeatInterval: 0 },
      silentLogger,
    );
    const soc = () => sim.inputs[5] & 0xff;
    sim.step(1);
    const soc0 = soc();
    assert.equal(sim.inputs[7] + sim.inputs[8], 0, "no PV at night");
    assert.ok(sim.inputs[11] > 0, "at night the battery feeds the load");
    // AC charge on (reg 21 bit 7)
    sim.holdings[21] |= 1 << 7;
    sim.step(600);
    assert.ok(sim.inputs[17] > 0, "rectifier power while AC charging");
    assert.ok(sim.inputs[10] > 0, "charge power");
    assert.equal(sim.inputs[0], 0x20, "status AC charge");
    assert.ok(soc() > soc0, `SOC rose (${soc0} → ${soc()})`);
    const eChg = sim.inputs[33];
    assert.ok(eChg > 0, "charge energy today grew");
    // AC charge SOC limit 67: stop at the limit
    sim.holdings[67] = soc() - 1;
    sim.step(60);
    assert.equal(sim.inputs[17], 0);
    // forced discharge (bit 10), AC charge off
    sim.holdings[21] &= ~(1 << 7);
    sim.holdings[21] |= 1 << 10;
    const before = soc();
    sim.step(900);
    assert.ok(sim.inputs[11] > 0, "discharge power");
    assert.ok(soc() < before, "SOC fell");
    assert.ok(sim.inputs[26] > 0, "surplus exported");
    // hold 65 = 0 stops all discharging
    sim.holdings[21] &= ~(1 << 10);
    sim.holdings[65] = 0;
    sim.step(60);
    assert.equal(sim.inputs[11], 0);
    assert.ok(sim.inputs[27] > 0, "load imported from the grid");
  },
});

Deno.test({
  name: "physics: PV follows the day curve; counters only grow",
  sanitizeOps: true,
  sanitizeResources: true,
  fn() {
    let now = new Date();
    now.setHours(12, 0, 0, 0);
    const sim = new InverterSimulator(
      { port: 0, clock: () => now, interval: 0, heartbeatInterval: 0 },
      silentLogger,
    );
    sim.step(1);
    const noon = sim.inputs[7] + sim.inputs[8];
    assert.ok(noon > 3000, `noon PV ${noon} W`);
    const pvAll0 = sim.inputs[40] + sim.inputs[41] * 65536;
    now = new Date(now.getTime() + 4 * 3600_000); // 16:00
    sim.step(3600);
    const late = sim.inputs[7] + sim.inputs[8];
    assert.ok(late > 0 && late < noon, `afternoon PV ${late} W < noon ${noon} W`);
    const pvAll1 = sim.inputs[40] + sim.inputs[41] * 65536;
    assert.ok(pvAll1 > pvAll0, "lifetime PV energy grew");
    assert.ok(sim.inputs[28] > 0, "PV energy today grew");
    assert.ok(sim.inputs[64] > 20 && sim.inputs[64] < 80, "inner temperature plausible");
    const v = sim.inputs[4] / 10;
    assert.ok(v > 46 && v < 58, `battery voltage ${v}`);
  },
});

simTest(
  "read param 0 returns the interval; heartbeats and broadcasts are pushed",
  async (sim, port, raws) => {
    const r = await Raw.open(port);
    raws.push(r);
    await r.send({ kind: "readParam", protocol: 2, datalog: DL, param: 0 });
    const p = await r.next((q) => q.kind === "readParam");
    assert.equal(p.kind, "readParam");
    if (p.kind === "readParam") assert.deepEqual(Array.from(p.value!), [7, 0]);
    // the timers: heartbeat every 0.2 s and broadcasts every 7 s would be slow; trigger a heartbeat by hand
    sim.sendHeartbeat();
    const hb = await r.next((q) => q.kind === "heartbeat");
    assert.equal(hb.datalog, DL);
    // echoed heartbeats are counted
    await r.send(hb);
    await until(() => sim.stats.heartbeatEchoes > 0, "the echoed heartbeat counted", 2000);
    assert.equal(sim.stats.heartbeatEchoes, 1);
  },
  { interval: 7 },
);

simTest("timed broadcasts: three old-firmware frames", async (_sim, port, raws) => {
  const r = await Raw.open(port);
  raws.push(r);
  const regs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const p = (await r.next(isT, 5000)) as TranslatedData;
    regs.push(p.register);
    assert.equal(p.values!.length, 40);
  }
  assert.deepEqual(regs, [0, 40, 80]);
}, { interval: 0.3 });

simTest(
  "fault injection: chunks, garbage and bad CRC frames around every reply",
  async (_sim, port, raws) => {
    const r = await Raw.open(port);
    raws.push(r);
    for (let i = 0; i < 10; i++) {
      await r.send(rd(3, 21, 1));
      const p = (await r.next(isT)) as TranslatedData;
      assert.deepEqual(p.values, [62292]);
    }
    assert.equal(r.splitterStats.bad, 10);
    assert.ok(r.splitterStats.dropped > 0);
  },
  { faults: { chunk: true, garbageProbability: 1, badCrcProbability: 1 } },
);

simTest("fault injection: exception registers, silent, drop", async (sim, port, raws) => {
  const r = await Raw.open(port);
  raws.push(r);
  await r.send(rd(3, 60, 10));
  const p = (await r.next(isT)) as TranslatedData;
  assert.equal(p.fn, 0x83);
  assert.equal(p.exceptionCode, 6);
  sim.setFaults({ exceptionRegisters: [], silent: true });
  await r.send(rd(3, 21, 1));
  await assert.rejects(r.next(isT, 300), /timed out waiting for a matching packet/);
  sim.setFaults({ silent: false, dropProbability: 1 });
  await r.send(rd(3, 21, 1));
  const n = await r.conn.read(new Uint8Array(10)).catch(() => null);
  assert.equal(n ?? null, null);
  assert.equal(sim.stats.drops, 1);
}, { faults: { exceptionRegisters: [64], exceptionCode: 6 } });
