// The register transport over MQTT: talks to a running `ess2mqtt serve` (or octolux) through the broker —
// publish <prefix>/cmd/<command>, wait for the data topics and <prefix>/result/<command> (topic names from
// the bridge's TopicLayout: octolux, octolux with an inverter name, or lxp-bridge's). Answers like the
// LXP transport (src/lxp/transport.ts): the same values, LxpError "timeout" when no result comes (exit 4),
// "exception" when the bridge answers FAIL (exit 6).

import type { Logger } from "../log.ts";
import { MqttLink, type MqttLinkOptions, type MqttMessage } from "../mqtt/client.ts";
import { redactUri } from "../mqtt/topic.ts";
import { commandForBit } from "../lxp/commands.ts";
import { LxpError } from "../lxp/errors.ts";
import type { InputBlock } from "../lxp/inputs.ts";
import type { RegisterTransport } from "../lxp/transport.ts";
import type { TopicLayout } from "../lxp/topics.ts";
import { type ClockFields, formatClock } from "../lxp/clock.ts";
import { findSlotKind, formatSlot, type Slot, slotRegisters } from "../lxp/slots.ts";

const decoder = new TextDecoder();

interface Waiter {
  pred: (m: MqttMessage) => boolean;
  resolve: (m: MqttMessage) => void;
}

export interface MqttTransportOptions {
  link: MqttLinkOptions;
  layout: TopicLayout;
  /** How long to wait for a command's result. */
  timeoutMs: number;
}

export class MqttRegisterTransport implements RegisterTransport {
  private waiters: Waiter[] = [];
  private seen: MqttMessage[] = [];

  private constructor(
    private link: MqttLink,
    private layout: TopicLayout,
    private timeoutMs: number,
    private where: string,
  ) {}

  /** Connects and subscribes; rejects with MqttError when the broker can't be reached. */
  static async open(o: MqttTransportOptions, logger: Logger): Promise<MqttRegisterTransport> {
    const link = new MqttLink(o.link, logger);
    await link.start();
    const t = new MqttRegisterTransport(link, o.layout, o.timeoutMs, redactUri(o.link.uri));
    const onMessage = (msg: MqttMessage) => t.onMessage(msg);
    await link.subscribeAsync(o.layout.state("hold/+"), onMessage);
    await link.subscribeAsync(o.layout.state("inputs/+"), onMessage);
    await link.subscribeAsync(o.layout.resultFilter, onMessage);
    return t;
  }

  private onMessage(m: MqttMessage) {
    // A stale retained value is not an answer to our command. lxp-bridge's layout retains every hold/<reg>,
    // so there the live ones (retain-as-published) count; replays come right after SUBACK, before any command.
    if (m.retain && !(this.layout.retainHold && m.topic.startsWith(this.layout.state("hold/")))) return;
    this.seen.push(m);
    for (const w of [...this.waiters]) {
      if (w.pred(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  /** Publish a command and wait for its result; returns the messages seen between the two. */
  private async command(name: string, payload: string): Promise<MqttMessage[]> {
    const encoded = this.layout.encodeCommand(name, payload);
    if (!encoded) {
      throw new RangeError(`the ${this.layout.layout} topics have no command ${name}; use --via lxp`);
    }
    const resultTopic = encoded.resultTopic;
    const from = this.seen.length;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = new Promise<MqttMessage | undefined>((resolve) => {
      const w: Waiter = { pred: (m) => m.topic === resultTopic, resolve };
      this.waiters.push(w);
      timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      }, this.timeoutMs);
    });
    await this.link.publishAsync(encoded.topic, encoded.payload, { qos: 1 });
    const got = await result;
    clearTimeout(timer);
    if (!got) {
      throw new LxpError(
        "timeout",
        `no ${resultTopic} within ${
          this.timeoutMs / 1000
        } s from ${this.where} (is ess2mqtt serve running with [lxp] configured?)`,
      );
    }
    const answer = decoder.decode(got.payload);
    if (answer !== "OK") {
      throw new LxpError("exception", `${resultTopic} = ${answer || "(empty)"} for ${name} ${payload}`);
    }
    return this.seen.slice(from, this.seen.indexOf(got));
  }

  private holdValues(messages: MqttMessage[], register: number, count: number): number[] {
    const values: (number | undefined)[] = new Array(count).fill(undefined);
    const head = this.layout.state("hold/");
    for (const m of messages) {
      const reg = Number(m.topic.slice(head.length));
      if (!m.topic.startsWith(head) || reg < register || reg >= register + count) continue;
      values[reg - register] = Number(decoder.decode(m.payload));
    }
    const missing = values.findIndex((v) => v === undefined);
    if (missing >= 0) {
      throw new LxpError(
        "mismatch",
        `the bridge answered OK but ${this.layout.state(`hold/${register + missing}`)} was not published`,
      );
    }
    return values as number[];
  }

  async readHold(register: number, count = 1): Promise<number[]> {
    const seen = await this.command("read_hold", count === 1 ? String(register) : `${register},${count}`);
    return this.holdValues(seen, register, count);
  }

  async readInputBlock(block: InputBlock): Promise<Record<string, number>> {
    const seen = await this.command("read_input", String(block));
    const data = seen.findLast((m) => m.topic === this.layout.state(`inputs/${block}`));
    if (!data) {
      throw new LxpError(
        "mismatch",
        `the bridge answered OK but ${this.layout.state(`inputs/${block}`)} was not published`,
      );
    }
    return JSON.parse(decoder.decode(data.payload));
  }

  async writeHold(register: number, value: number): Promise<number> {
    const seen = await this.command(`set_hold/${register}`, String(value));
    const echo = seen.findLast((m) => m.topic === this.layout.state(`hold/${register}`));
    return echo ? Number(decoder.decode(echo.payload)) : value;
  }

  async updateBit(register: number, bit: number, on: boolean): Promise<number> {
    const command = commandForBit(register, bit);
    if (!command) {
      throw new RangeError(`register ${register} bit ${bit} has no MQTT command; use --via lxp`);
    }
    const seen = await this.command(command.name, on ? "on" : "off");
    const echo = seen.findLast((m) => m.topic === this.layout.state(`hold/${register}`));
    if (echo) return Number(decoder.decode(echo.payload));
    return (await this.readHold(register, 1))[0];
  }

  /** `cmd/<kind>_slot/<n>` → the bridge writes and verifies both registers; their echoes are the answer. */
  async writeSlot(kind: string, n: number, slot: Slot): Promise<{ start: number; end: number }> {
    const k = findSlotKind(kind);
    if (!k) throw new RangeError(`unknown slot kind "${kind}"`);
    const regs = slotRegisters(k, n);
    const seen = await this.command(`${kind}_slot/${n}`, formatSlot(slot));
    const [start, end] = this.holdValues(seen, regs.start, regs.end - regs.start + 1);
    return { start, end };
  }

  /** `cmd/set_clock` `YYYY-MM-DD HH:MM:SS` → the bridge writes 12–14 (write-multi). */
  async setClock(fields: ClockFields): Promise<void> {
    await this.command("set_clock", formatClock(fields));
  }

  close(): Promise<void> {
    return this.link.stop();
  }
}
