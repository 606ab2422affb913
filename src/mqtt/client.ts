// MQTT link: one mqtt.js client with URI/credential/TLS handling, last will, automatic reconnect,
// subscriptions that survive reconnects, and per-filter message routing.

import mqtt from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import type { Logger } from "../log.ts";
import { CliError, ExitCode } from "../cli/exit_codes.ts";
import { redactUri, topicMatches } from "./topic.ts";

export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  retain: boolean;
}

export interface MqttLinkOptions {
  uri: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** File paths of PEM files for mqtts:// and wss://. */
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  will?: { topic: string; payload: string; retain: boolean; qos: 0 | 1 };
  connectTimeoutMs?: number;
  reconnectPeriodMs?: number;
  /** MQTT keep-alive in seconds (default 30). */
  keepalive?: number;
  /** 5 (default: MQTT 5 with a fallback to 3.1.1 when the broker refuses it) or 4 (3.1.1 only). */
  protocolVersion?: 4 | 5;
}

class UnsupportedProtocol extends Error {}

function readPem(key: string, path: string): Buffer {
  try {
    return Deno.readFileSync(path) as unknown as Buffer;
  } catch (err) {
    throw new CliError(ExitCode.config, `[mqtt] ${key}: cannot read "${path}": ${(err as Error).message}`);
  }
}

/** CONNACK "unacceptable protocol version" (3.1.1: 1) / "unsupported protocol version" (5: 132). */
function isUnsupportedProtocol(err: Error): boolean {
  const code = (err as { code?: number }).code;
  return code === 1 || code === 132;
}

interface Subscription {
  filter: string;
  handler: (m: MqttMessage) => void;
}

const SUPPORTED_SCHEMES = ["mqtt:", "mqtts:", "ws:", "wss:", "tcp:", "ssl:"];

/** Check a broker URI; returns an error message naming the bad value, or undefined when valid. */
export function checkBrokerUri(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `not a valid URI: "${redactUri(uri)}"`;
  }
  if (!SUPPORTED_SCHEMES.includes(url.protocol)) {
    return `unsupported scheme "${url.protocol.replace(":", "")}" (use mqtt, mqtts, ws or wss)`;
  }
  if (!url.hostname) return `no host in "${redactUri(uri)}"`;
  return undefined;
}

const utf8 = new TextEncoder();
type RawSocket = { write(b: Uint8Array): boolean; writable?: boolean; destroyed?: boolean };

/**
 * QoS-0 PUBLISH frames written straight onto mqtt.js's socket, all frames of one synchronous burst in one
 * write (flushed in a microtask: same tick, no time window). Going through mqtt.js costs ~30 µs of CPU per
 * publish and piles up a drain listener per packet under load (a 10,000-topic publish took ~250 ms; this
 * path ~140 ms). QoS-0 publishes carry no client state, and mqtt.js writes each of its packets
 * synchronously, so frames can't interleave with its own.
 */
class BatchedQos0Writer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private scheduled = false;
  /** `version()`: MQTT 5 PUBLISH frames carry a properties length (0) after the topic. */
  constructor(private socket: () => RawSocket | undefined, private version: () => number) {}

  /** False when there is no usable socket (the caller falls back to mqtt.js). */
  write(topic: Uint8Array, payload: string, retain: boolean): boolean {
    if (!this.scheduled && !this.socket()) return false;
    const pay = utf8.encode(payload);
    const props = this.version() === 5 ? 1 : 0;
    const rem = 2 + topic.length + props + pay.length;
    const hdr = rem < 128 ? 2 : rem < 16384 ? 3 : rem < 2097152 ? 4 : 5;
    const f = new Uint8Array(hdr + rem);
    f[0] = 0x30 | (retain ? 1 : 0);
    let n = rem, i = 1;
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      f[i++] = b;
    } while (n > 0);
    f[i++] = topic.length >> 8;
    f[i++] = topic.length & 0xff;
    f.set(topic, i);
    if (props) f[i + topic.length] = 0; // no properties
    f.set(pay, i + topic.length + props);
    this.parts.push(f);
    this.size += f.length;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
    return true;
  }

  /** Writes what is pending now (so a publish through mqtt.js can't overtake earlier fast frames). */
  flush(): void {
    this.scheduled = false;
    if (!this.parts.length) return;
    const buf = new Uint8Array(this.size);
    let off = 0;
    for (const p of this.parts) buf.set(p, off), off += p.length;
    this.parts = [];
    this.size = 0;
    this.socket()?.write(buf);
  }
}

export class MqttLink {
  private client?: MqttClient;
  private subs: Subscription[] = [];
  private connectListeners = new Set<() => void>();
  private stopped = false;
  readonly stats = { received: 0, published: 0, reconnects: 0, handlerErrors: 0 };
  private readonly qos0 = new BatchedQos0Writer(() => {
    const c = this.client as unknown as { connected?: boolean; stream?: RawSocket } | undefined;
    const st = c?.connected && !this.stopped ? c.stream : undefined;
    if (!st || typeof st.write !== "function" || st.destroyed || st.writable === false) return undefined;
    return st;
  }, () => this.protocolVersion);

  constructor(private options: MqttLinkOptions, private logger: Logger) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * Connects; resolves on the first CONNACK, rejects with exit code 5 when the broker can't be reached in
   * time. Speaks MQTT 5 where the broker does, subscribing with retain-as-published so a message that
   * was published retained is recognisable even when delivered live; falls back to MQTT 3.1.1 (aedes),
   * where only messages replayed from the retained store carry the flag.
   */
  async start(signal?: AbortSignal): Promise<void> {
    const o = this.options;
    const bad = checkBrokerUri(o.uri);
    if (bad) throw new CliError(ExitCode.config, `[mqtt] uri: ${bad}`);
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    if ((o.protocolVersion ?? 5) === 5) {
      try {
        await this.connect(5);
        return;
      } catch (err) {
        if (!(err instanceof UnsupportedProtocol)) throw err;
        this.logger.debug("broker does not speak MQTT 5; using MQTT 3.1.1", { broker: redactUri(o.uri) });
      }
    }
    await this.connect(4);
  }

  /** MQTT protocol version in use (5 or 4 = 3.1.1); 0 before the first connection. */
  protocolVersion = 0;

  private subscribeOptions() {
    return this.protocolVersion === 5 ? { qos: 1 as const, rap: true } : { qos: 1 as const };
  }

  private connect(version: 4 | 5): Promise<void> {
    const o = this.options;
    const opts: IClientOptions = {
      clientId: o.clientId || `ess2mqtt_${crypto.randomUUID().slice(0, 8)}`,
      connectTimeout: o.connectTimeoutMs ?? 5000,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      keepalive: o.keepalive ?? 30,
      clean: true,
      resubscribe: true,
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      protocolVersion: version,
    };
    if (o.username) opts.username = o.username;
    if (o.password) opts.password = o.password;
    if (o.ca) opts.ca = readPem("ca", o.ca);
    if (o.cert) opts.cert = readPem("cert", o.cert);
    if (o.key) opts.key = readPem("key", o.key);
    if (o.will) opts.will = { ...o.will, payload: new TextEncoder().encode(o.will.payload) as unknown as Buffer };

    const where = redactUri(o.uri);
    const client = mqtt.connect(o.uri, opts);
    this.client = client;
    let firstConnect = true;

    client.on("connect", () => {
      this.protocolVersion = version;
      const stream = (client as unknown as { stream?: { setNoDelay?: (b: boolean) => void } }).stream;
      stream?.setNoDelay?.(true);
      if (firstConnect) this.logger.info("connected to MQTT broker", { broker: where, mqtt: version === 5 ? "5" : "3.1.1" });
      else {
        this.stats.reconnects++;
        this.logger.info("reconnected to MQTT broker", { broker: where });
      }
      firstConnect = false;
      // mqtt.js resubscribes what it already had; (re)subscribe anything registered since, idempotently.
      const filters = [...new Set(this.subs.map((s) => s.filter))];
      if (filters.length) client.subscribe(filters, this.subscribeOptions());
      for (const cb of this.connectListeners) {
        try {
          cb();
        } catch (err) {
          this.logger.error("connect listener failed", { error: err });
        }
      }
    });
    client.on("offline", () => {
      if (!this.stopped && !firstConnect) this.logger.warn("MQTT broker connection lost; reconnecting", { broker: where });
    });
    client.on("error", (err) => {
      if (!firstConnect || !isUnsupportedProtocol(err)) this.logger.warn("MQTT error", { broker: where, error: err.message });
    });
    client.on("message", (topic, payload, packet) => {
      this.stats.received++;
      const msg: MqttMessage = { topic, payload, retain: packet.retain };
      for (const s of this.subs) {
        if (!topicMatches(s.filter, topic)) continue;
        try {
          s.handler(msg);
        } catch (err) {
          this.stats.handlerErrors++;
          this.logger.error("MQTT message handler failed", { topic, error: err });
        }
      }
    });

    return new Promise<void>((resolve, reject) => {
      const timeoutMs = (o.connectTimeoutMs ?? 5000) + 500;
      const timer = setTimeout(() => {
        cleanup();
        void this.stop();
        reject(new CliError(ExitCode.brokerUnreachable, `MQTT broker ${where} unreachable (no connection within ${timeoutMs} ms)`));
      }, timeoutMs);
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error) => {
        if (version === 5 && isUnsupportedProtocol(err)) {
          cleanup();
          client.end(true);
          reject(new UnsupportedProtocol());
          return;
        }
        // Authentication and TLS failures are final: don't keep the user waiting.
        const code = (err as { code?: number | string }).code;
        if (code === 4 || code === 5 || code === 134 || code === 135 || /certificate|self.signed|TLS/i.test(err.message)) {
          cleanup();
          void this.stop();
          reject(new CliError(ExitCode.brokerUnreachable, `MQTT broker ${where} refused the connection: ${err.message}`));
        }
      };
      const cleanup = () => {
        clearTimeout(timer);
        client.off("connect", onConnect);
        client.off("error", onError);
      };
      client.once("connect", onConnect);
      client.on("error", onError);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const c = this.client;
    if (!c) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        c.end(true, {}, () => resolve());
      }, 1000);
      c.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Routes messages matching `filter` to `handler`; the subscription is restored after every reconnect. */
  subscribe(filter: string, handler: (m: MqttMessage) => void): void {
    this.subs.push({ filter, handler });
    if (this.client?.connected) this.client.subscribe(filter, this.subscribeOptions());
  }

  /** Like subscribe, but resolves once the broker has acknowledged the subscription (SUBACK). */
  subscribeAsync(filter: string, handler: (m: MqttMessage) => void): Promise<void> {
    this.subs.push({ filter, handler });
    const c = this.client;
    if (!c?.connected) return Promise.resolve();
    return new Promise((resolve, reject) =>
      c.subscribe(filter, this.subscribeOptions(), (err) => (err ? reject(err) : resolve()))
    );
  }

  /** Fire-and-forget publish; mqtt.js queues it while offline. Never throws. */
  publish(topic: string, payload: string | Uint8Array, opts: { retain?: boolean; qos?: 0 | 1 } = {}): void {
    const c = this.client;
    if (!c || this.stopped) return;
    this.qos0.flush();
    this.stats.published++;
    try {
      c.publish(topic, payload as string | Buffer, { qos: opts.qos ?? 0, retain: opts.retain ?? false }, (err) => {
        if (err && !this.stopped) this.logger.warn("MQTT publish failed", { topic, error: err.message });
      });
    } catch (err) {
      this.logger.warn("MQTT publish failed", { topic, error: err });
    }
  }

  /**
   * QoS-0 publish for high-rate notification streams: frames of one synchronous burst go out in one socket
   * write. Stays in order with everything else published on this link (publish() writes pending fast
   * frames first); falls back to publish() while offline.
   * `topic` may be given pre-encoded (UTF-8) to save the encoding on hot paths.
   */
  publishFast(topic: string | Uint8Array, payload: string, retain: boolean, topicText?: string): void {
    if (this.stopped) return;
    const bytes = typeof topic === "string" ? utf8.encode(topic) : topic;
    if (this.qos0.write(bytes, payload, retain)) {
      this.stats.published++;
      return;
    }
    const text = typeof topic === "string" ? topic : (topicText ?? new TextDecoder().decode(topic));
    this.publish(text, payload, { retain, qos: 0 });
  }

  /** Publish and wait for the broker's acknowledgement (QoS 1) or the write (QoS 0). */
  publishAsync(topic: string, payload: string | Uint8Array, opts: { retain?: boolean; qos?: 0 | 1 } = {}): Promise<void> {
    const c = this.client;
    if (!c || this.stopped) return Promise.reject(new Error("MQTT link not started"));
    this.qos0.flush();
    this.stats.published++;
    return new Promise((resolve, reject) =>
      c.publish(topic, payload as string | Buffer, { qos: opts.qos ?? 1, retain: opts.retain ?? false }, (err) =>
        err ? reject(err) : resolve()
      )
    );
  }

  /** Called after every (re)connect, once subscriptions are restored. */
  onConnect(cb: () => void): () => void {
    this.connectListeners.add(cb);
    return () => this.connectListeners.delete(cb);
  }
}
