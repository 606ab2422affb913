// LuxPower inverter ⇄ MQTT, topic-compatible with octolux:
//   every input block seen → <prefix>/inputs/N (JSON), every holding value seen → <prefix>/hold/<reg>,
//   <prefix>/cmd/<command> → one command at a time → <prefix>/result/<command> OK/FAIL,
//   <prefix>/status: the one availability document (retained, also the MQTT last will):
//     online            the bridge runs and its TCP link to the dongle is up;
//     inverter_offline  the bridge runs, the link to the dongle is down;
//     offline           the bridge stopped, or died (the broker publishes the will).
//   With several inverters ([lxp.NAME]) the document is a JSON object {"NAME": "online" | "inverter_offline"}
//   while serve runs (see InverterAvailability), and "offline" when it is gone.
//   <prefix>/inverter: online/offline on every link change and MQTT connect, NOT retained (a retained copy
//   would stay "online" after a crash); the retained copy older versions left is cleared on connect.
// Topic names go through a TopicLayout (src/lxp/topics.ts): octolux, octolux with an inverter name, or
// lxp-bridge's. Polling (inputs 1–3 on link-up and every read interval, holdings 0–239 on connect) runs
// through the same one-at-a-time queue as commands and publishes no result.

import type { Logger } from "../log.ts";
import type { MqttLink, MqttMessage } from "../mqtt/client.ts";
import { FN_READ_HOLD, FN_READ_INPUT, FN_WRITE_SINGLE, type Packet } from "../lxp/frame.ts";
import { BLOCK_SIZE, BLOCK_START, decodeInputReply, stringifyInputs } from "../lxp/inputs.ts";
import { type CommandPlan, NAMED_COMMANDS, planCommand } from "../lxp/commands.ts";
import type { LxpClient } from "../lxp/client.ts";
import { discoveryMessages, inverterDeviceId } from "../lxp/discovery.ts";
import type { DiscoveryMode } from "../mqtt/ha_discovery.ts";
import { HaAnnouncer } from "./ha_announcer.ts";
import { type TopicLayout, topicLayout } from "../lxp/topics.ts";
import { LxpBridgeInputs } from "../lxp/lxp_bridge_inputs.ts";
import { decodeBits } from "../lxp/registers.ts";
import { CLOCK_REGISTER, encodeClock, localFields } from "../lxp/clock.ts";
import {
  formatSlot,
  SLOT_COMMAND,
  slotFromRegisters,
  slotJson,
  slotOfRegister,
  slotRegisters,
} from "../lxp/slots.ts";

/** The part of LxpClient the bridge uses (lets tests and the TUI share it). */
export type InverterLink = Pick<
  LxpClient,
  | "connected"
  | "waitConnected"
  | "onPacket"
  | "onLink"
  | "readHold"
  | "readInput"
  | "writeHold"
  | "updateBit"
  | "writeMulti"
>;

export interface LxpBridgeOptions {
  prefix: string;
  /** Publish Home Assistant discovery (retained) on every MQTT connect and when Home Assistant comes online. */
  discovery?: {
    discoveryPrefix: string;
    datalog: string;
    serial: string;
    mode?: DiscoveryMode;
    name?: string;
  };
  /** How long a command may wait for the inverter link before it FAILs, in ms. */
  commandTimeoutMs: number;
  /** Topic names (default: the octolux layout of `prefix`). */
  layout?: TopicLayout;
  /** The dongle serial, named in lxp-bridge's inputs JSON. */
  datalog?: string;
  /** Reads of its own, through the command queue (no result messages). */
  poll?: PollOptions;
  /** Several inverters: report into one shared document instead of publishing <prefix>/status. */
  availability?: AvailabilitySink;
}

export interface PollOptions {
  /** Read inputs 1–3 every this many ms while the link is up; 0 = only on link-up (and the broadcasts). */
  readIntervalMs: number;
  /** Read holdings 0–239 (six reads of 40) each time the link comes up. */
  holdingsOnConnect: boolean;
  /** Injected for tests; default globalThis.setInterval/clearInterval. */
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
}

const decoder = new TextDecoder();

/** Payloads of <prefix>/status. */
const STATUS_ONLINE = "online",
  STATUS_INVERTER_OFFLINE = "inverter_offline",
  STATUS_OFFLINE = "offline";
export type AvailabilityState = typeof STATUS_ONLINE | typeof STATUS_INVERTER_OFFLINE | typeof STATUS_OFFLINE;

/** Where a bridge reports its availability when several share one document (default: <prefix>/status). */
export interface AvailabilitySink {
  report(state: AvailabilityState): void;
}

/**
 * The one availability document of several inverters in one serve, retained on <prefix>/status:
 * "document": `{"NAME": "online" | "inverter_offline", …}` while serve runs;
 * "bridge": lxp-bridge's LWT contract, plain "online" while serve runs (link states are not folded in).
 * Either way "offline" (also the last will) once every bridge stopped.
 */
export class InverterAvailability {
  private readonly states = new Map<string, AvailabilityState>();

  constructor(
    private readonly mqtt: Pick<MqttLink, "publish">,
    private readonly topic: string,
    private readonly form: "document" | "bridge",
  ) {}

  /** The sink of one inverter. */
  sink(name: string): AvailabilitySink {
    return { report: (state) => this.set(name, state) };
  }

  private set(name: string, state: AvailabilityState) {
    if (state === STATUS_OFFLINE) this.states.delete(name);
    else this.states.set(name, state);
    const doc = this.states.size === 0
      ? STATUS_OFFLINE
      : this.form === "bridge"
      ? STATUS_ONLINE
      : JSON.stringify(Object.fromEntries(this.states));
    this.mqtt.publish(this.topic, doc, { retain: true, qos: 1 });
  }
}

/** Names of the command topics this bridge understands (`set_hold/<reg>` is a family). */
export function isKnownCommand(name: string): boolean {
  return [...NAMED_COMMANDS, "read_input", "read_hold"].includes(name) || /^set_hold\/[^/]*$/.test(name) ||
    SLOT_COMMAND.test(name) || name === "set_clock";
}

interface Job {
  name: string;
  /** Where OK/FAIL goes; absent for the bridge's own polling reads, which publish no result. */
  resultTopic?: string;
  /** undefined: the payload was rejected; the job only reports FAIL, in its turn, sending nothing. */
  plan?: CommandPlan;
  rejection?: string;
  received: number;
}

export class LxpBridge {
  readonly stats = { commands: 0, ok: 0, fail: 0, rejected: 0, published: 0, ignored: 0 };
  /** The bridge's own reads (polling), apart from the commands. */
  readonly pollStats = { reads: 0, failures: 0 };
  private queue: Job[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private unsubscribers: (() => void)[] = [];
  private stopped = false;
  /** Publishes the discovery configs (undefined without `discovery`). */
  readonly announcer?: HaAnnouncer;
  private readonly layout: TopicLayout;
  private readonly lxpBridgeInputs?: LxpBridgeInputs;
  /** Last value seen of each time-slot register (both halves are needed for slot/<kind>/<n>). */
  private slotValues = new Map<number, number>();

  constructor(
    private readonly o: LxpBridgeOptions & { inverter: InverterLink; mqtt: MqttLink; logger: Logger },
  ) {
    const layout = o.layout ?? topicLayout({ layout: "octolux", prefix: o.prefix, datalog: "" });
    this.layout = layout;
    if (layout.layout === "lxp-bridge") this.lxpBridgeInputs = new LxpBridgeInputs(o.datalog ?? "");
    const d = o.discovery;
    if (d) {
      this.announcer = new HaAnnouncer({
        mqtt: o.mqtt,
        discoveryPrefix: d.discoveryPrefix,
        deviceId: inverterDeviceId(d.datalog, d.name ? d.serial : undefined),
        mode: d.mode ?? "device",
        messages: () => discoveryMessages({ prefix: o.prefix, layout, ...d }),
        logger: o.logger,
      });
    }
  }

  private topic(rest: string) {
    return this.layout.state(rest);
  }

  start(signal?: AbortSignal): void {
    const { inverter, mqtt } = this.o;
    this.unsubscribers.push(inverter.onPacket((p) => this.onPacket(p)));
    this.unsubscribers.push(
      inverter.onLink((up) => {
        this.publishLink(up);
        if (up) this.pollOnConnect();
      }),
    );
    this.unsubscribers.push(mqtt.onConnect(() => this.publishAvailability()));
    for (const filter of this.layout.commandFilters) mqtt.subscribe(filter, (m) => this.onCommand(m));
    this.announcer?.start();
    if (mqtt.connected) this.publishAvailability();
    const poll = this.o.poll;
    if (poll && poll.readIntervalMs > 0) {
      const set = poll.setInterval ?? ((fn, ms) => setInterval(fn, ms));
      const clear = poll.clearInterval ?? ((h) => clearInterval(h as number));
      const handle = set(() => this.pollInputs(), poll.readIntervalMs);
      this.unsubscribers.push(() => clear(handle));
    }
    if (inverter.connected) this.pollOnConnect();
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
  }

  /** Stops taking commands, waits for the one running (queued ones FAIL), marks the bridge offline. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const u of this.unsubscribers) u();
    this.announcer?.stop();
    for (const job of this.queue.splice(0)) this.finish(job, false, "bridge stopping");
    await this.idle();
    this.reportAvailability(STATUS_OFFLINE);
  }

  /** Resolves when no command is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private publishAvailability() {
    this.announcer?.announce();
    // Clear the retained inverter state an older version may have left behind.
    this.o.mqtt.publish(this.topic("inverter"), "", { retain: true, qos: 1 });
    this.publishLink(this.o.inverter.connected);
  }

  /** The link state: into the retained availability document, and as a live (not retained) event. */
  private publishLink(up: boolean) {
    if (this.stopped) return;
    this.reportAvailability(up ? STATUS_ONLINE : STATUS_INVERTER_OFFLINE);
    this.o.mqtt.publish(this.topic("inverter"), up ? "online" : "offline", { qos: 1 });
  }

  private reportAvailability(state: AvailabilityState) {
    if (this.o.availability) this.o.availability.report(state);
    else this.o.mqtt.publish(this.topic("status"), state, { retain: true, qos: 1 });
  }

  /** Everything the dongle sends — broadcasts, our replies, other clients' replies — is published. */
  private onPacket(p: Packet) {
    if (p.kind !== "translated" || p.exceptionCode !== undefined) return;
    const { mqtt } = this.o;
    if (p.fn === FN_READ_INPUT && p.values && this.lxpBridgeInputs) {
      for (
        const [rest, json] of this.lxpBridgeInputs.feed(p.register, p.values, Math.floor(Date.now() / 1000))
      ) {
        mqtt.publish(this.topic(rest), json, { qos: 1 });
        this.stats.published++;
      }
    } else if (p.fn === FN_READ_INPUT && p.values) {
      for (const { block, json } of decodeInputReply(p.register, p.values)) {
        mqtt.publish(this.topic(`inputs/${block}`), stringifyInputs(json), { qos: 1 });
        this.stats.published++;
      }
    } else if (p.fn === FN_READ_HOLD && p.values) {
      p.values.forEach((v, i) => this.publishHold(p.register + i, v));
      this.noteSlotValues(p.register, p.values);
    } else if (p.fn === FN_WRITE_SINGLE && p.value !== undefined && p.address !== 0) {
      this.publishHold(p.register, p.value);
      this.noteSlotValues(p.register, [p.value]);
    }
  }

  /** Time-slot registers seen (read or written, by anyone) → retained slot/<kind>/<n> `HH:MM-HH:MM`. */
  private noteSlotValues(first: number, values: readonly number[]) {
    const touched = new Map<string, { kind: string; n: number; start: number; end: number }>();
    values.forEach((v, i) => {
      const slot = slotOfRegister(first + i);
      if (!slot) return;
      this.slotValues.set(first + i, v);
      touched.set(`${slot.kind.name}/${slot.n}`, {
        kind: slot.kind.name,
        n: slot.n,
        ...slotRegisters(slot.kind, slot.n),
      });
    });
    for (const [key, s] of touched) {
      const start = this.slotValues.get(s.start), end = this.slotValues.get(s.end);
      if (start === undefined || end === undefined) continue;
      // lxp-bridge publishes a slot as {"start":"HH:MM","end":"HH:MM"}, octolux topics as HH:MM-HH:MM
      const slot = slotFromRegisters(start, end);
      const text = this.layout.layout === "lxp-bridge" ? slotJson(slot) : formatSlot(slot);
      this.o.mqtt.publish(this.topic(`slot/${key}`), text, { retain: true, qos: 1 });
      this.stats.published++;
    }
  }

  private publishHold(register: number, value: number) {
    const retain = this.layout.retainHold;
    this.o.mqtt.publish(this.topic(`hold/${register}`), String(value), { qos: 1, retain });
    this.stats.published++;
    if (this.layout.layout !== "lxp-bridge") return;
    // lxp-bridge also publishes the named bits of 21 and 110 as {"ac_charge_en":"ON",…}
    const bits = decodeBits(register, value);
    if (!bits) return;
    const json = Object.fromEntries(Object.entries(bits).map(([k, on]) => [k, on ? "ON" : "OFF"]));
    this.o.mqtt.publish(this.topic(`hold/${register}/bits`), JSON.stringify(json), { qos: 1, retain });
    this.stats.published++;
  }

  /** Inputs 1–3, then (when configured) holdings 0–239: the state topics exist right after a connect. */
  private pollOnConnect() {
    if (this.stopped || !this.o.poll) return;
    this.pollInputs();
    const queued = this.queue.some((j) => j.resultTopic === undefined && j.plan?.kind === "readHold");
    if (this.o.poll?.holdingsOnConnect && !queued) {
      for (let r = 0; r < 240; r += 40) this.enqueuePoll({ kind: "readHold", register: r, count: 40 });
    }
  }

  /** One read of inputs 1–3, unless the link is down or the previous round is still queued. */
  private pollInputs() {
    if (this.stopped || !this.o.inverter.connected) return;
    if (this.queue.some((j) => j.resultTopic === undefined && j.plan?.kind === "readInput")) return;
    for (const block of [1, 2, 3] as const) this.enqueuePoll({ kind: "readInput", block });
  }

  private enqueuePoll(plan: CommandPlan) {
    this.queue.push({ name: "poll", plan, received: Date.now() });
    void this.drain();
  }

  private onCommand(m: MqttMessage) {
    const parsed = this.layout.parseCommand(m.topic, decoder.decode(m.payload));
    const name = parsed?.name ?? "";
    const payload = parsed?.payload ?? decoder.decode(m.payload);
    const resultTopic = parsed?.resultTopic;
    const log = this.o.logger;
    if (m.retain) {
      this.stats.ignored++;
      log.warn(
        "ignoring retained command (it would re-run on every reconnect); clear it with an empty retained publish",
        {
          topic: m.topic,
          payload,
        },
      );
      return;
    }
    if (!parsed || !isKnownCommand(name)) {
      this.stats.ignored++;
      log.warn("ignoring unknown command topic", { topic: m.topic, payload });
      return;
    }
    this.stats.commands++;
    if (this.stopped) {
      this.publishResult(resultTopic, false);
      return;
    }
    const planned = planCommand(name, payload);
    if (planned.ok) {
      if (planned.warning) {
        log.warn("unclear boolean payload", { topic: m.topic, payload, warning: planned.warning });
      }
      this.queue.push({ name, resultTopic, plan: planned.plan, received: Date.now() });
    } else {
      // Answered FAIL in its turn, so results keep the order of the commands.
      this.stats.rejected++;
      log.warn("rejected command: nothing sent to the inverter", {
        topic: m.topic,
        payload,
        error: planned.error,
      });
      this.queue.push({ name, resultTopic, rejection: planned.error, received: Date.now() });
    }
    void this.drain();
  }

  private async drain() {
    if (this.running) return;
    this.running = true;
    try {
      let job: Job | undefined;
      while ((job = this.queue.shift())) {
        let ok = false;
        let error = "";
        try {
          await this.execute(job);
          ok = true;
        } catch (err) {
          error = (err as Error).message;
        }
        this.finish(job, ok, error);
      }
    } finally {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private finish(job: Job, ok: boolean, error: string) {
    if (job.resultTopic === undefined) {
      // the bridge's own read: counted and logged, never a result message
      this.pollStats.reads++;
      if (!ok) {
        this.pollStats.failures++;
        this.o.logger.warn("poll read failed", { plan: job.plan, error });
      }
      return;
    }
    if (ok) this.stats.ok++;
    else if (job.rejection !== undefined) this.stats.fail++;
    else {
      this.stats.fail++;
      this.o.logger.warn("command failed", { command: job.name, error });
    }
    this.publishResult(job.resultTopic, ok);
  }

  private publishResult(topic: string | undefined, ok: boolean) {
    if (topic !== undefined) this.o.mqtt.publish(topic, ok ? "OK" : "FAIL", { qos: 1 });
  }

  private async execute(job: Job): Promise<void> {
    if (!job.plan) throw new Error(job.rejection);
    const { inverter } = this.o;
    // The time left for this command once it reaches the head of the queue.
    const remaining = this.o.commandTimeoutMs - (Date.now() - job.received);
    if (remaining <= 0) throw new Error(`timed out after ${this.o.commandTimeoutMs} ms in the queue`);
    if (!inverter.connected) await inverter.waitConnected(remaining);
    const plan = job.plan;
    // A write whose echo is lost or garbled is read back until the command's time is up.
    const verify = { until: job.received + this.o.commandTimeoutMs };
    switch (plan.kind) {
      case "readInput":
        await inverter.readInput(BLOCK_START[plan.block], BLOCK_SIZE);
        return;
      case "readHold":
        await inverter.readHold(plan.register, plan.count);
        return;
      case "write":
        await inverter.writeHold(plan.register, plan.value, verify);
        return;
      case "setBit":
        await inverter.updateBit(plan.register, plan.bit, plan.on, verify);
        return;
      case "setClock":
        await inverter.writeMulti(CLOCK_REGISTER, encodeClock(plan.fields ?? localFields(new Date())));
        return;
      case "writeSlot":
        try {
          await inverter.writeHold(plan.start, plan.startValue);
          await inverter.writeHold(plan.end, plan.endValue);
        } catch (err) {
          // Half a slot may have been written: read it back, so slot/<kind>/<n> shows what the inverter has.
          try {
            await inverter.readHold(plan.start, plan.end - plan.start + 1);
          } catch (readErr) {
            this.o.logger.warn("cannot read the slot back after a failed write", {
              slot: `${plan.slot}/${plan.n}`,
              error: (readErr as Error).message,
            });
          }
          throw err;
        }
        return;
    }
  }
}
