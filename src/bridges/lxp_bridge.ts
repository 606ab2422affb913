// LuxPower inverter ⇄ MQTT, topic-compatible with octolux:
//   every input block seen → <prefix>/inputs/N (JSON), every holding value seen → <prefix>/hold/<reg>,
//   <prefix>/cmd/<command> → one command at a time → <prefix>/result/<command> OK/FAIL,
//   <prefix>/status: the one availability document (retained, also the MQTT last will):
//     online            the bridge runs and its TCP link to the dongle is up;
//     inverter_offline  the bridge runs, the link to the dongle is down;
//     offline           the bridge stopped, or died (the broker publishes the will).
//   <prefix>/inverter: online/offline on every link change and MQTT connect, NOT retained (a retained copy
//   would stay "online" after a crash); the retained copy older versions left is cleared on connect.

import type { Logger } from "../log.ts";
import type { MqttLink, MqttMessage } from "../mqtt/client.ts";
import { FN_READ_HOLD, FN_READ_INPUT, FN_WRITE_SINGLE, type Packet } from "../lxp/frame.ts";
import { BLOCK_SIZE, BLOCK_START, decodeInputReply, stringifyInputs } from "../lxp/inputs.ts";
import { type CommandPlan, NAMED_COMMANDS, planCommand } from "../lxp/commands.ts";
import type { LxpClient } from "../lxp/client.ts";
import { discoveryMessages } from "../lxp/discovery.ts";

/** The part of LxpClient the bridge uses (lets tests and the TUI share it). */
export type InverterLink = Pick<
  LxpClient,
  "connected" | "waitConnected" | "onPacket" | "onLink" | "readHold" | "readInput" | "writeHold" | "updateBit"
>;

export interface LxpBridgeOptions {
  prefix: string;
  /** Publish Home Assistant discovery (retained) on every MQTT connect. */
  discovery?: { discoveryPrefix: string; datalog: string; serial: string };
  /** How long a command may wait for the inverter link before it FAILs, in ms. */
  commandTimeoutMs: number;
}

const decoder = new TextDecoder();

/** Payloads of <prefix>/status. */
export const STATUS_ONLINE = "online",
  STATUS_INVERTER_OFFLINE = "inverter_offline",
  STATUS_OFFLINE = "offline";

/** Names of the command topics this bridge understands (`set_hold/<reg>` is a family). */
export function isKnownCommand(name: string): boolean {
  return [...NAMED_COMMANDS, "read_input", "read_hold"].includes(name) || /^set_hold\/[^/]*$/.test(name);
}

interface Job {
  name: string;
  /** undefined: the payload was rejected; the job only reports FAIL, in its turn, sending nothing. */
  plan?: CommandPlan;
  rejection?: string;
  received: number;
}

export class LxpBridge {
  readonly stats = { commands: 0, ok: 0, fail: 0, rejected: 0, published: 0, ignored: 0 };
  private queue: Job[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private unsubscribers: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly o: LxpBridgeOptions & { inverter: InverterLink; mqtt: MqttLink; logger: Logger },
  ) {}

  private topic(rest: string) {
    return `${this.o.prefix}/${rest}`;
  }

  start(signal?: AbortSignal): void {
    const { inverter, mqtt } = this.o;
    this.unsubscribers.push(inverter.onPacket((p) => this.onPacket(p)));
    this.unsubscribers.push(inverter.onLink((up) => this.publishLink(up)));
    this.unsubscribers.push(mqtt.onConnect(() => this.publishAvailability()));
    mqtt.subscribe(this.topic("cmd/#"), (m) => this.onCommand(m));
    if (mqtt.connected) this.publishAvailability();
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
  }

  /** Stops taking commands, waits for the one running (queued ones FAIL), marks the bridge offline. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const u of this.unsubscribers) u();
    for (const job of this.queue.splice(0)) this.finish(job, false, "bridge stopping");
    await this.idle();
    this.o.mqtt.publish(this.topic("status"), STATUS_OFFLINE, { retain: true, qos: 1 });
  }

  /** Resolves when no command is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private publishAvailability() {
    if (this.o.discovery) {
      for (const m of discoveryMessages({ prefix: this.o.prefix, ...this.o.discovery })) {
        this.o.mqtt.publish(m.topic, m.payload, { retain: true, qos: 1 });
      }
    }
    // Clear the retained inverter state an older version may have left behind.
    this.o.mqtt.publish(this.topic("inverter"), "", { retain: true, qos: 1 });
    this.publishLink(this.o.inverter.connected);
  }

  /** The link state: into the retained availability document, and as a live (not retained) event. */
  private publishLink(up: boolean) {
    if (this.stopped) return;
    this.o.mqtt.publish(this.topic("status"), up ? STATUS_ONLINE : STATUS_INVERTER_OFFLINE, {
      retain: true,
      qos: 1,
    });
    this.o.mqtt.publish(this.topic("inverter"), up ? "online" : "offline", { qos: 1 });
  }

  /** Everything the dongle sends — broadcasts, our replies, other clients' replies — is published. */
  private onPacket(p: Packet) {
    if (p.kind !== "translated" || p.exceptionCode !== undefined) return;
    const { mqtt } = this.o;
    if (p.fn === FN_READ_INPUT && p.values) {
      for (const { block, json } of decodeInputReply(p.register, p.values)) {
        mqtt.publish(this.topic(`inputs/${block}`), stringifyInputs(json), { qos: 1 });
        this.stats.published++;
      }
    } else if (p.fn === FN_READ_HOLD && p.values) {
      p.values.forEach((v, i) => {
        mqtt.publish(this.topic(`hold/${p.register + i}`), String(v), { qos: 1 });
        this.stats.published++;
      });
    } else if (p.fn === FN_WRITE_SINGLE && p.value !== undefined && p.address !== 0) {
      mqtt.publish(this.topic(`hold/${p.register}`), String(p.value), { qos: 1 });
      this.stats.published++;
    }
  }

  private onCommand(m: MqttMessage) {
    const name = m.topic.slice(this.topic("cmd/").length);
    const payload = decoder.decode(m.payload);
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
    if (!isKnownCommand(name)) {
      this.stats.ignored++;
      log.warn("ignoring unknown command topic", { topic: m.topic, payload });
      return;
    }
    this.stats.commands++;
    if (this.stopped) {
      this.publishResult(name, false);
      return;
    }
    const planned = planCommand(name, payload);
    if (planned.ok) {
      this.queue.push({ name, plan: planned.plan, received: Date.now() });
    } else {
      // Answered FAIL in its turn, so results keep the order of the commands.
      this.stats.rejected++;
      log.warn("rejected command: nothing sent to the inverter", {
        topic: m.topic,
        payload,
        error: planned.error,
      });
      this.queue.push({ name, rejection: planned.error, received: Date.now() });
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
    if (ok) this.stats.ok++;
    else if (job.rejection !== undefined) this.stats.fail++;
    else {
      this.stats.fail++;
      this.o.logger.warn("command failed", { command: job.name, error });
    }
    this.publishResult(job.name, ok);
  }

  private publishResult(name: string, ok: boolean) {
    this.o.mqtt.publish(this.topic(`result/${name}`), ok ? "OK" : "FAIL", { qos: 1 });
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
    }
  }
}
