// LxpClient against the real simulator on ephemeral loopback ports.
import assert from "node:assert/strict";
import { LxpClient, type LxpClientOptions, LxpError } from "../src/lxp/client.ts";
import type { InverterSimOptions, InverterSimulator } from "../src/sim/inverter.ts";
import { encodePacket, type Packet, type TranslatedData } from "../src/lxp/frame.ts";
import { memoryLogger, silentLogger } from "../src/log.ts";
import { until, withTimeout } from "./helpers/wait.ts";
import { freePort } from "./helpers/mosquitto.ts";
import {
  startTestSimulator,
  TEST_DATALOG as DATALOG,
  TEST_SERIAL as SERIAL,
} from "./helpers/inverter_sim.ts";

interface Rig {
  sim: InverterSimulator;
  port: number;
  clients: LxpClient[];
  client(opts?: Partial<LxpClientOptions>, logger?: typeof silentLogger): Promise<LxpClient>;
  close(): Promise<void>;
}

async function rig(simOpts: InverterSimOptions = {}): Promise<Rig> {
  const { sim, port } = await startTestSimulator({ heartbeatInterval: 0, ...simOpts });
  const clients: LxpClient[] = [];
  return {
    sim,
    port,
    clients,
    async client(opts = {}, logger = silentLogger) {
      const c = new LxpClient({
        host: "127.0.0.1",
        port,
        datalog: DATALOG,
        serial: SERIAL,
        requestTimeoutMs: 2000,
        reconnectMinMs: 50,
        reconnectMaxMs: 200,
        ...opts,
      }, logger);
      clients.push(c);
      c.start();
      await c.waitConnected(5000);
      return c;
    },
    async close() {
      for (const c of clients) await c.stop();
      await sim.stop();
    },
  };
}

/** Runs fn with a rig and a generous internal timeout, always cleaning up. */
function withRig(name: string, fn: (r: Rig) => Promise<void>, simOpts: InverterSimOptions = {}) {
  Deno.test({
    name,
    sanitizeOps: true,
    sanitizeResources: true,
    async fn() {
      const r = await rig(simOpts);
      try {
        await withTimeout(fn(r), 20_000, `test "${name}"`);
      } finally {
        await r.close();
      }
    },
  });
}

async function rejectsWith(p: Promise<unknown>, kind: string): Promise<LxpError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LxpError, `expected LxpError, got ${e}`);
    assert.equal(e.kind, kind, `expected kind ${kind}, got ${e.kind}: ${e.message}`);
    return e;
  }
  throw new Error(`expected rejection with ${kind}`);
}

const reqs = (sim: InverterSimulator, fn: number) => sim.received.filter((p) => p.fn === fn);

withRig("reads holdings and inputs", async (r) => {
  const c = await r.client();
  assert.deepEqual(await c.readHold(21), [62292]);
  const serialRegs = await c.readHold(2, 5);
  const text = serialRegs.map((v) => String.fromCharCode(v & 0xff, v >> 8)).join("");
  assert.equal(text, SERIAL);
  const inputs = await c.readInput(0, 40);
  assert.equal(inputs.length, 40);
  assert.deepEqual(inputs, Array.from(r.sim.inputs.subarray(0, 40)));
  const all = await c.readInput(0, 127);
  assert.equal(all.length, 127);
  const tail = await c.readInput(115, 5);
  assert.equal(tail.map((v) => String.fromCharCode(v & 0xff, v >> 8)).join(""), SERIAL);
  assert.equal(c.stats.framesOut, 5);
  assert.equal(c.stats.framesIn, 5);
});

withRig("writes, read-modify-write of register 21", async (r) => {
  const c = await r.client();
  assert.equal(await c.writeHold(64, 50), 50);
  assert.equal(r.sim.holdings[64], 50);
  assert.deepEqual(await c.readHold(64), [50]);
  assert.equal(await c.updateBit(21, 7, true), 62292 | 0x80);
  assert.equal(r.sim.holdings[21], 62292 | 0x80);
  assert.equal(await c.updateBit(21, 10, true), 62292 | 0x80 | 0x400);
  assert.equal(await c.updateBit(21, 7, false), 62292 | 0x400);
  assert.equal(await c.updateBit(21, 10, false), 62292);
  // each updateBit = one read + one write, in that order
  const seq = r.sim.received.slice(-8).map((p) => p.fn);
  assert.deepEqual(seq, [3, 6, 3, 6, 3, 6, 3, 6]);
});

withRig("concurrent requests are queued one at a time and each gets its own reply", async (r) => {
  const c = await r.client();
  const results = await Promise.all([
    c.readHold(21),
    c.readHold(64, 4),
    c.updateBit(21, 11, true),
    c.readInput(0, 3),
    c.writeHold(105, 20),
    c.readHold(21),
  ]);
  assert.deepEqual(results[0], [62292]);
  assert.deepEqual(results[1], [100, 100, 100, 100]);
  assert.equal(results[2], 62292 | 0x800);
  assert.equal((results[3] as number[]).length, 3);
  assert.equal(results[4], 20);
  assert.deepEqual(results[5], [62292 | 0x800]);
});

withRig("listeners see our replies, other clients' replies and broadcasts", async (r) => {
  const a = await r.client();
  const b = await r.client();
  const seenByB: Packet[] = [];
  const seenByA: Packet[] = [];
  b.onPacket((p) => seenByB.push(p));
  a.onPacket((p) => seenByA.push(p));
  assert.deepEqual(await a.readHold(21), [62292]);
  await until(() => seenByB.length >= 1, "B to see A's reply");
  const p = seenByB[0] as TranslatedData;
  assert.equal(p.kind, "translated");
  assert.equal(p.fn, 3);
  assert.equal(p.register, 21);
  assert.deepEqual(p.values, [62292]);
  assert.equal((seenByA[0] as TranslatedData).register, 21);
  // B's queue is unaffected by A's reply: B can still make its own request
  assert.equal(await b.writeHold(66, 80), 80);
  await until(() => seenByA.some((q) => q.kind === "translated" && q.fn === 6), "A to see B's write echo");
  // broadcasts (old firmware: three frames)
  r.sim.broadcastInputs();
  await until(() => seenByA.filter((q) => q.kind === "translated" && q.fn === 4).length >= 3, "broadcast");
  const regs = seenByA.filter((q): q is TranslatedData => q.kind === "translated" && q.fn === 4).map((
    q,
  ) => [q.register, q.values!.length, q.protocol]);
  assert.deepEqual(regs, [[0, 40, 2], [40, 40, 2], [80, 40, 2]]);
});

withRig("new firmware broadcasts one protocol-5 0–126 frame", async (r) => {
  const a = await r.client();
  const seen: TranslatedData[] = [];
  a.onPacket((p) => p.kind === "translated" && seen.push(p));
  r.sim.broadcastInputs();
  await until(() => seen.length >= 1, "broadcast");
  assert.equal(seen[0].protocol, 5);
  assert.equal(seen[0].register, 0);
  assert.equal(seen[0].values!.length, 127);
  assert.equal(seen.length, 1);
}, { firmware: "new" });

withRig("exception replies reject with kind exception and the code", async (r) => {
  const c = await r.client();
  r.sim.setFaults({ exceptionRegisters: [64], exceptionCode: 3 });
  const e = await rejectsWith(c.readHold(64), "exception");
  assert.equal(e.exceptionCode, 3);
  assert.match(e.message, /illegal data value/);
  const w = await rejectsWith(c.writeHold(64, 10), "exception");
  assert.equal(w.exceptionCode, 3);
  assert.equal(r.sim.holdings[64], 100, "nothing written");
  // reads past the register file: illegal data address
  const past = await rejectsWith(c.readHold(239, 2), "exception");
  assert.equal(past.exceptionCode, 2);
  // an exception is not retried
  assert.equal(reqs(r.sim, 3).length, 2);
  // the link is still fine
  assert.deepEqual(await c.readHold(21), [62292]);
});

withRig("silent dongle: reads time out after the retries; a write is sent once", async (r) => {
  const c = await r.client({ requestTimeoutMs: 200, retries: 2 });
  r.sim.setFaults({ silent: true });
  await rejectsWith(c.readHold(21), "timeout");
  await until(() => reqs(r.sim, 3).length === 3, "3 read attempts");
  await rejectsWith(c.writeHold(64, 1), "timeout");
  await rejectsWith(c.updateBit(21, 7, true), "timeout");
  // fence: one more request on the same connection; once the sim has it, everything before it arrived
  r.sim.setFaults({ silent: false });
  await c.readInput(0, 1);
  assert.equal(reqs(r.sim, 3).length, 6, "3 attempts for each of the two reads");
  assert.equal(reqs(r.sim, 6).length, 1, "write sent exactly once; updateBit never wrote");
  assert.equal(r.sim.holdings[64], 1, "the silent sim still applied the write");
});

withRig("a lost reply is retried for reads, never for writes", async (r) => {
  const c = await r.client({ requestTimeoutMs: 300, retries: 1 });
  r.sim.setFaults({ skipRequests: 1 });
  assert.deepEqual(await c.readHold(21), [62292]);
  assert.equal(reqs(r.sim, 3).length, 2);
  r.sim.setFaults({ skipRequests: 1 });
  await rejectsWith(c.writeHold(65, 0), "timeout");
  assert.equal(reqs(r.sim, 6).length, 1);
  // updateBit: the read may be retried, the write is not
  r.sim.setFaults({ skipRequests: 1 });
  assert.equal(await c.updateBit(21, 7, true), 62292 | 0x80);
  assert.equal(reqs(r.sim, 6).length, 2);
  r.sim.setFaults({ skipRequests: 0 });
});

withRig("link dropped mid-request: pending and queued fail with disconnected, then reconnect", async (r) => {
  const c = await r.client({ requestTimeoutMs: 10_000 });
  const links: boolean[] = [];
  c.onLink((up) => links.push(up));
  r.sim.setFaults({ dropProbability: 1 });
  const inflight = c.readHold(21);
  const queued = c.writeHold(64, 7);
  const queued2 = c.updateBit(21, 7, true);
  await rejectsWith(inflight, "disconnected");
  await rejectsWith(queued, "disconnected");
  await rejectsWith(queued2, "disconnected");
  assert.equal(reqs(r.sim, 6).length, 0, "queued write never sent");
  assert.equal(r.sim.holdings[64], 100);
  // while down, requests fail at once
  if (!c.connected) await rejectsWith(c.readHold(21), "disconnected");
  r.sim.setFaults({ dropProbability: 0 });
  await until(() => c.connected, "reconnect");
  assert.deepEqual(await c.readHold(21), [62292]);
  assert.ok(c.stats.reconnects >= 1);
  assert.deepEqual(links.slice(0, 2), [false, true]);
});

withRig("periodic drops: the client keeps reconnecting", async (r) => {
  const c = await r.client();
  r.sim.setFaults({ dropEveryMs: 150 });
  await until(() => c.stats.reconnects >= 2, "two reconnects");
  r.sim.setFaults({ dropEveryMs: 0 });
  await until(() => c.connected, "connected");
  assert.deepEqual(await c.readHold(21), [62292]);
});

withRig("chunked, garbage and bad-CRC output is still understood", async (r) => {
  const c = await r.client();
  r.sim.setFaults({ chunk: true, garbageProbability: 1, badCrcProbability: 1 });
  for (let i = 0; i < 15; i++) {
    assert.deepEqual(await c.readHold(64 + (i % 4)), [100]);
    assert.equal((await c.readInput(0, 127)).length, 127);
  }
  assert.equal(await c.writeHold(67, 90), 90);
  assert.ok(c.stats.droppedBytes > 0, "garbage counted");
  assert.ok(c.stats.badFrames >= 31, `bad frames counted (${c.stats.badFrames})`);
  assert.equal(c.stats.framesIn, 31);
});

withRig("delayed replies are still matched", async (r) => {
  const c = await r.client({ requestTimeoutMs: 2000 });
  r.sim.setFaults({ delayMs: 150 });
  assert.deepEqual(await c.readHold(21), [62292]);
  assert.equal(await c.writeHold(64, 42), 42);
});

withRig("wrong inverter serial: the dongle does not answer; broadcasts warn once", async (r) => {
  const mem = memoryLogger("warn");
  const c = await r.client({ serial: "9999999999", requestTimeoutMs: 200, retries: 0 }, mem.logger);
  await rejectsWith(c.readHold(21), "timeout");
  assert.ok(r.sim.stats.ignored >= 1);
  r.sim.broadcastInputs();
  await until(() => c.stats.framesIn >= 3, "broadcast frames");
  r.sim.broadcastInputs();
  await until(() => c.stats.framesIn >= 6, "broadcast frames");
  const warnings = mem.entries.filter((e) => /another inverter serial/.test(e.msg));
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].fields.received, SERIAL);
});

withRig("heartbeat echo (optional)", async (r) => {
  const plain = await r.client();
  const echo = await r.client({ heartbeatEcho: true });
  const seen: Packet[] = [];
  plain.onPacket((p) => seen.push(p));
  r.sim.sendHeartbeat();
  await until(() => r.sim.stats.heartbeatEchoes === 1, "one heartbeat echo");
  await until(() => seen.some((p) => p.kind === "heartbeat"), "heartbeat seen by listener");
  assert.equal(echo.stats.framesOut, 1);
  assert.equal(plain.stats.framesOut, 0);
});

withRig("silence watchdog reconnects", async (r) => {
  const c = await r.client({ silenceTimeoutMs: 150 });
  const links: boolean[] = [];
  c.onLink((up) => links.push(up));
  await until(() => links.length >= 2, "watchdog reconnect");
  assert.deepEqual(links.slice(0, 2), [false, true]);
  assert.ok(r.sim.stats.connections >= 2);
});

Deno.test({
  name: "unreachable dongle: waitConnected rejects unreachable, requests fail at once",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const port = freePort();
    const c = new LxpClient(
      { host: "127.0.0.1", port, datalog: DATALOG, serial: SERIAL, reconnectMinMs: 20, reconnectMaxMs: 50 },
      silentLogger,
    );
    c.start();
    try {
      const e = await rejectsWith(c.waitConnected(3000, true), "unreachable");
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      await rejectsWith(c.readHold(21), "disconnected");
      await rejectsWith(c.waitConnected(200), "unreachable");
      assert.equal(c.connected, false);
    } finally {
      await c.stop();
    }
    await rejectsWith(c.readHold(21), "disconnected");
  },
});

Deno.test({
  name: "stop() during a request rejects it and leaks nothing",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const r = await rig({ faults: { silent: true } });
    const c = await r.client({ requestTimeoutMs: 10_000 });
    const p = rejectsWith(c.readHold(21), "disconnected");
    await until(() => r.sim.received.length === 1, "the request to reach the sim");
    await c.stop();
    await p;
    await r.close();
  },
});

// ------------------------------------------------------------------------------------------ verified writes

const soon = (ms = 5000) => ({ until: Date.now() + ms });
const writesTo = (sim: InverterSimulator, reg: number) => sim.writeLog.filter((w) => w.register === reg);

withRig("verified write: a garbled echo is confirmed by reading the register back (one write)", async (r) => {
  const mem = memoryLogger("info");
  const c = await r.client({ requestTimeoutMs: 500 }, mem.logger);
  r.sim.setFaults({ corruptEcho: true });
  // without verification a garbled echo is a mismatch
  await rejectsWith(c.writeHold(64, 40), "mismatch");
  assert.equal(await c.writeHold(64, 50, soon()), 50);
  assert.equal(c.stats.readBackConfirmed, 1);
  assert.ok(mem.entries.some((e) => e.msg === "write confirmed by read-back" && e.fields.register === 64));
  assert.deepEqual(writesTo(r.sim, 64).map((w) => [w.value, w.executed]), [[40, true], [50, true]]);
  // the read-back used the fresh-window read (function 3)
  assert.equal(reqs(r.sim, 3).length, 1);
});

withRig("verified write: a dropped echo is confirmed by read-back; the bit commands too", async (r) => {
  const c = await r.client({ requestTimeoutMs: 300 });
  r.sim.setFaults({ dropEchoProbability: 1 });
  assert.equal(await c.writeHold(65, 20, soon()), 20);
  assert.equal(await c.updateBit(21, 7, true, soon()), 62292 | 0x80);
  assert.equal(r.sim.holdings[21], 62292 | 0x80);
  assert.equal(c.stats.readBackConfirmed, 2);
  assert.equal(writesTo(r.sim, 65).length, 1, "never a second write");
  assert.equal(writesTo(r.sim, 21).length, 1, "never a second write");
});

withRig(
  "verified write: 60 truncated bytes then the correct echo → confirmed by the echo itself",
  async (r) => {
    const c = await r.client({ requestTimeoutMs: 2000 });
    r.sim.setFaults({ truncateBeforeReplyProbability: 1 });
    for (let i = 0; i < 3; i++) assert.equal(await c.writeHold(66, 70 + i, soon()), 70 + i);
    assert.equal(c.stats.readBackConfirmed, 0, "no read-back needed");
    assert.equal(c.stats.truncatedFrames, 3);
    assert.equal(writesTo(r.sim, 66).length, 3);
  },
);

withRig("verified write: a write that did not happen fails with the value read back", async (r) => {
  const c = await r.client({ requestTimeoutMs: 300 });
  r.sim.setFaults({ skipRequests: 1 }); // the write request is lost
  const e = await rejectsWith(c.writeHold(67, 10, soon()), "mismatch");
  assert.match(e.message, /read back 100/);
  assert.deepEqual(writesTo(r.sim, 67).map((w) => w.executed), [false]);
  // a silent dongle: no read-back answer before the deadline → the original failure kind
  r.sim.setFaults({ silent: true });
  const t = await rejectsWith(c.writeHold(67, 11, soon(800)), "timeout");
  assert.match(t.message, /read-back got no answer/);
  assert.equal(writesTo(r.sim, 67).length, 2, "each write sent once");
});

withRig(
  "verified write: the link drops after the write → reconnect and read back within the deadline",
  async (r) => {
    const c = await r.client({ requestTimeoutMs: 1000 });
    const downs: boolean[] = [];
    c.onLink((up) => downs.push(up));
    // the next request (the write) is executed, then the sim closes the connection instead of echoing
    r.sim.setFaults({ dropEchoProbability: 1 });
    const w = c.writeHold(105, 15, soon());
    await until(() => writesTo(r.sim, 105).length === 1, "the write to arrive");
    r.sim.dropAll();
    r.sim.setFaults({ dropEchoProbability: 0 });
    assert.equal(await w, 15);
    assert.deepEqual(downs.slice(0, 2), [false, true]);
    assert.equal(writesTo(r.sim, 105).length, 1);
  },
);

withRig("verified write: a late echo of an earlier write to the register is not trusted", async (r) => {
  const c = await r.client({ requestTimeoutMs: 200 });
  // write 1 (7): executed, but its echo comes 300 ms late, after the 200 ms timeout
  r.sim.setFaults({ delayMs: 300 });
  await rejectsWith(c.writeHold(64, 7), "timeout");
  r.sim.setFaults({ delayMs: 0 });
  // write 2 (9): executed and echoed at once
  assert.equal(await c.writeHold(64, 9), 9);
  // write 3 (7) is lost on the way; the late echo "7" of write 1 arrives while it waits
  r.sim.setFaults({ skipRequests: 1 });
  const e = await rejectsWith(c.writeHold(64, 7, soon()), "mismatch");
  assert.match(e.message, /echo possibly a late one of an earlier write; read back 9/);
  assert.equal(r.sim.holdings[64], 9);
  assert.deepEqual(writesTo(r.sim, 64).map((w) => [w.value, w.executed]), [[7, true], [9, true], [7, false]]);
});

Deno.test({
  name: "a frame cut short with nothing after it is given up after frameGapMs (counted, buffer freed)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    // a bare TCP "dongle" that sends the first 60 bytes of a 291-byte frame and then nothing
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const full = encodePacket({
      kind: "translated",
      protocol: 5,
      datalog: DATALOG,
      address: 1,
      fn: 4,
      serial: SERIAL,
      register: 0,
      values: new Array(127).fill(7),
      byteCountPresent: true,
    });
    const served = (async () => {
      const conn = await listener.accept();
      await conn.write(full.subarray(0, 60));
      return conn;
    })();
    const c = new LxpClient(
      { host: "127.0.0.1", port, datalog: DATALOG, serial: SERIAL, frameGapMs: 50 },
      silentLogger,
    );
    c.start();
    const conn = await served;
    try {
      await until(() => c.stats.truncatedFrames === 1, "the truncated frame to be given up");
      assert.equal(c.stats.droppedBytes, 60);
      // the link carries on: a complete frame afterwards is read normally
      const seen: Packet[] = [];
      c.onPacket((p) => seen.push(p));
      await conn.write(full);
      await until(() => seen.length === 1, "the next frame");
      assert.equal(c.stats.badFrames, 0);
    } finally {
      await c.stop();
      conn.close();
      listener.close();
    }
  },
});
