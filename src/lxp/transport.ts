// The register operations the one-shot commands (and the TUI's direct mode) need, behind one interface:
// implemented here over the LXP TCP link, and over MQTT through a running bridge in
// src/bridges/mqtt_register_transport.ts. Both answer with the same values and the same errors
// (LxpError: unreachable/timeout → exit 4, exception/mismatch → exit 6), so output never depends on the path.

import type { Logger } from "../log.ts";
import { LxpClient } from "./client.ts";
import { BLOCK_SIZE, BLOCK_START, type InputBlock, inputsJson } from "./inputs.ts";

export interface RegisterTransport {
  readHold(register: number, count?: number): Promise<number[]>;
  /** The octolux JSON of one input block (inputs/N), as the bridge publishes it. */
  readInputBlock(block: InputBlock): Promise<Record<string, number>>;
  /** Resolves with the echoed value; rejects (LxpError mismatch) when the echo differs. */
  writeHold(register: number, value: number): Promise<number>;
  /** Atomic read-modify-write of one bit; resolves with the new register value. */
  updateBit(register: number, bit: number, on: boolean): Promise<number>;
  close(): Promise<void>;
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

/** A one-shot LXP link: connects (failing fast when refused), no read retries, no silence watchdog. */
export async function openLxpTransport(target: LxpTarget, logger: Logger): Promise<RegisterTransport> {
  const client = new LxpClient({
    host: target.host,
    port: target.port,
    datalog: target.datalog,
    serial: target.serial,
    connectTimeoutMs: target.connectTimeoutMs,
    requestTimeoutMs: target.timeoutMs,
    retries: 0,
    silenceTimeoutMs: 0,
    heartbeatEcho: target.heartbeats,
  }, logger);
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
  client: Pick<LxpClient, "readHold" | "readInput" | "writeHold" | "updateBit">,
  close: () => Promise<void>,
): RegisterTransport {
  return {
    readHold: (r, c) => client.readHold(r, c),
    async readInputBlock(block) {
      const start = BLOCK_START[block];
      const values = await client.readInput(start, BLOCK_SIZE);
      return inputsJson(block, (reg) => values[reg - start] ?? 0);
    },
    writeHold: (r, v) => client.writeHold(r, v),
    updateBit: (r, b, on) => client.updateBit(r, b, on),
    close,
  };
}
