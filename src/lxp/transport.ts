// The register operations the one-shot commands (and the TUI's direct mode) need, behind one interface:
// implemented here over the LXP TCP link, and over MQTT through a running bridge in
// src/bridges/mqtt_register_transport.ts. Both answer with the same values and the same errors
// (LxpError: unreachable/timeout → exit 4, exception/mismatch → exit 6), so output never depends on the path.

import type { Logger } from "../log.ts";
import { LxpClient, type LxpClientOptions } from "./client.ts";
import { BLOCK_SIZE, BLOCK_START, type InputBlock, inputsJson } from "./inputs.ts";
import { CLOCK_REGISTER, type ClockFields, encodeClock } from "./clock.ts";
import { encodeSlotTime, findSlotKind, type Slot, slotRegisters } from "./slots.ts";

export interface RegisterTransport {
  readHold(register: number, count?: number): Promise<number[]>;
  /** The octolux JSON of one input block (inputs/N), as the bridge publishes it. */
  readInputBlock(block: InputBlock): Promise<Record<string, number>>;
  /** Resolves with the echoed value; rejects (LxpError mismatch) when the echo differs. */
  writeHold(register: number, value: number): Promise<number>;
  /** Atomic read-modify-write of one bit; resolves with the new register value. */
  updateBit(register: number, bit: number, on: boolean): Promise<number>;
  /**
   * Writes both registers of a time-of-use slot (start, then end), each echo verified; resolves with the
   * echoed values. On any failure the slot is read back (so every listener sees what it holds) and the
   * error is rethrown.
   */
  writeSlot(kind: string, n: number, slot: Slot): Promise<{ start: number; end: number }>;
  /** Sets the inverter clock (holdings 12–14, one write-multi) to a wall-clock time. */
  setClock(fields: ClockFields): Promise<void>;
  close(): Promise<void>;
}

/** writeSlot over plain register writes (the LXP path; the MQTT path asks the bridge to do the same). */
async function writeSlotRegisters(
  t: Pick<RegisterTransport, "writeHold" | "readHold">,
  kind: string,
  n: number,
  slot: Slot,
): Promise<{ start: number; end: number }> {
  const k = findSlotKind(kind);
  if (!k) throw new RangeError(`unknown slot kind "${kind}"`);
  const regs = slotRegisters(k, n);
  try {
    const start = await t.writeHold(regs.start, encodeSlotTime(slot.start));
    const end = await t.writeHold(regs.end, encodeSlotTime(slot.end));
    return { start, end };
  } catch (err) {
    await t.readHold(regs.start, regs.end - regs.start + 1).catch(() => {});
    throw err;
  }
}

/** Where the dongle is and how long to wait for it. */
export interface LxpTarget {
  host: string;
  port: number;
  datalog: string;
  serial: string;
  /** Per-request reply timeout. */
  timeoutMs: number;
  connectTimeoutMs: number;
  heartbeats: boolean;
}

/** The options of a one-shot link: no read retries, no silence watchdog, the target's timeouts. */
export function oneShotClientOptions(target: LxpTarget): LxpClientOptions {
  return {
    host: target.host,
    port: target.port,
    datalog: target.datalog,
    serial: target.serial,
    connectTimeoutMs: target.connectTimeoutMs,
    requestTimeoutMs: target.timeoutMs,
    retries: 0,
    silenceTimeoutMs: 0,
    heartbeatEcho: target.heartbeats,
  };
}

/** A one-shot LXP link: connects (failing fast when refused), no read retries, no silence watchdog. */
export async function openLxpTransport(target: LxpTarget, logger: Logger): Promise<RegisterTransport> {
  const client = new LxpClient(oneShotClientOptions(target), logger);
  client.start();
  try {
    await client.waitConnected(target.connectTimeoutMs, true);
  } catch (e) {
    await client.stop();
    throw e;
  }
  return lxpClientTransport(client, () => client.stop());
}

/** The transport over an LxpClient someone else runs (the TUI's direct mode); close() is the caller's. */
export function lxpClientTransport(
  client: Pick<LxpClient, "readHold" | "readInput" | "writeHold" | "updateBit" | "writeMulti">,
  close: () => Promise<void>,
): RegisterTransport {
  const t: RegisterTransport = {
    readHold: (r, c) => client.readHold(r, c),
    async readInputBlock(block) {
      const start = BLOCK_START[block];
      const values = await client.readInput(start, BLOCK_SIZE);
      return inputsJson(block, (reg) => values[reg - start] ?? 0);
    },
    writeHold: (r, v) => client.writeHold(r, v),
    updateBit: (r, b, on) => client.updateBit(r, b, on),
    writeSlot: (kind, n, slot) => writeSlotRegisters(t, kind, n, slot),
    setClock: (fields) => client.writeMulti(CLOCK_REGISTER, encodeClock(fields)),
    close,
  };
  return t;
}
