// The embedded MQTT broker (aedes over node:net or node:tls), used by `serve` when no [mqtt] uri is
// configured. Around aedes (options and hooks only, no fork):
//  - in-order delivery: aedes runs a retained publish through its store (a promise) before handing it to its
//    emitter, a non-retained one straight away, so a later publish can overtake an earlier one; each client
//    then drops every message whose brokerCounter is below the last one it was given (`dedupe` in aedes's
//    lib/client.js, aedes issues #955/#994) — 2–17 % of a 10,090-topic retained burst never reached a
//    connected subscriber. Here every publish is handed to the emitter in the order it entered
//    `broker.publish` (= brokerCounter order), so nothing is overtaken and nothing is dropped.
//  - slow subscribers: one that stops reading no longer holds up the others (see SlowSubscribers).
//  - retain-as-published for the bridges in this process: aedes speaks MQTT 3.1.1 only and clears the retain
//    flag of a live delivery; clients registered with retainAsPublished() get it as published (what
//    mosquitto's MQTT 5 retain-as-published gives the MqttLink), so a retained command is refused the same way.
//  - who may connect: listen_username/listen_password (or a password file), TLS with listen_cert/listen_key,
//    and no anonymous broker beyond loopback unless allow_anonymous = true.

import { Aedes } from "aedes";
import net from "node:net";
import tls from "node:tls";
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import type { MqttConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { MqttError } from "./errors.ts";
import { type ListenAddress, listenUri } from "./address.ts";
import { type EmbeddedBrokerOptions, embeddedBrokerSettings } from "./embedded.ts";

function sameSecret(given: Uint8Array | undefined, want: string): boolean {
  const h = (b: Uint8Array) => createHash("sha256").update(b).digest();
  return timingSafeEqual(h(given ?? new Uint8Array(0)), h(new TextEncoder().encode(want))) &&
    given !== undefined;
}

// aedes internals the wrapper touches (all documented options or public instance members).
export interface AedesPacket {
  brokerCounter: number;
  retain: boolean;
  topic: string;
}
type Done = (err?: Error | null) => void;
export interface AedesInternals {
  counter: number;
  mq: { emit(message: AedesPacket, cb?: Done): unknown };
  publish(packet: unknown, client?: unknown, done?: Done): void;
}

/** How long a publish may hold back the ones after it before they go without it (see deliverInOrder). */
const HOLD_LIMIT_MS = 2000;

/**
 * Hands every publish to aedes's emitter in the order it entered broker.publish (its brokerCounter order),
 * holding back one whose predecessors still wait on the retained store. `onEmit` sees each message as
 * published (retain flag included) just before delivery; `onDelivered` when every subscriber had it. A
 * publish that neither reaches the emitter nor fails within HOLD_LIMIT_MS (aedes swallows some persistence
 * errors) stops holding the others back: `onStuck` is told, and it goes unordered if it ever comes.
 */
export function deliverInOrder(
  broker: AedesInternals,
  hooks: {
    onEmit: (m: AedesPacket) => void;
    onDelivered: (m: AedesPacket) => void;
    onStuck: (counter: number) => void;
  },
  holdLimitMs = HOLD_LIMIT_MS,
): { pending(): number; stop(): void } {
  interface Entry {
    counter: number;
    release?: () => void;
    failed: boolean;
  }
  const pending: Entry[] = [];
  const byCounter = new Map<number, Entry>();
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const drain = () => {
    while (pending.length) {
      const head = pending[0];
      if (!head.release && !head.failed) break;
      pending.shift();
      if (byCounter.get(head.counter) === head) byCounter.delete(head.counter);
      head.release?.();
    }
    // Something is held behind an unfinished head: make sure it can't wait forever.
    if (pending.length > 1 && !watchdog && !stopped) {
      const head = pending[0];
      watchdog = setTimeout(() => {
        watchdog = undefined;
        if (pending[0] === head && !head.release) {
          head.failed = true;
          hooks.onStuck(head.counter);
        }
        drain();
      }, holdLimitMs);
      Deno.unrefTimer(watchdog);
    }
  };
  const mq = broker.mq;
  const emit = mq.emit.bind(mq);
  const release = (message: AedesPacket, cb?: Done) => {
    hooks.onEmit(message);
    emit(message, (err) => {
      hooks.onDelivered(message);
      cb?.(err);
    });
  };
  mq.emit = (message, cb) => {
    const entry = byCounter.get(message.brokerCounter);
    if (!entry) release(message, cb);
    else {
      entry.release = () => release(message, cb);
      drain();
    }
    return mq;
  };
  const publish = broker.publish.bind(broker);
  broker.publish = (packet, client, done) => {
    if (typeof client === "function") {
      done = client as Done;
      client = null;
    }
    // aedes's publish numbers the packet (++broker.counter) synchronously, before anything async.
    const entry: Entry = { counter: broker.counter + 1, failed: false };
    pending.push(entry);
    byCounter.set(entry.counter, entry);
    publish(packet, client, (err) => {
      if (!entry.release) {
        // failed before reaching the emitter (store error, too many topic levels): don't hold others
        entry.failed = true;
        drain();
      }
      done?.(err);
    });
  };
  return {
    pending: () => pending.length,
    stop: () => {
      stopped = true;
      clearTimeout(watchdog);
    },
  };
}

// A client as the hooks see it (aedes's lib/client.js): its id, socket, state and QoS-0 delivery function.
interface AedesClient {
  id: string;
  closed: boolean;
  conn: net.Socket;
  deliver0(packet: unknown, cb: () => void): void;
}

/**
 * Subscribers that can't keep up. aedes waits for a subscriber's socket to drain before it counts a message as
 * delivered, and its emitter runs at most 100 messages at once, so one subscriber that stops reading holds up
 * every other subscriber and the publishers (until aedes's 60 s drain timeout). Here the socket never tells
 * aedes to wait (its write() always returns true; node buffers the bytes); instead, once more than
 * `backlogBytes` wait on it, that subscriber's QoS-0 messages are held back, the latest per topic only, and
 * written in the order of their last update when the socket has drained: it loses intermediate values of a
 * topic, never the last one. Past `disconnectBytes` (QoS-1 messages still flowing) it is disconnected.
 */
class SlowSubscribers {
  private backlogs = new Map<AedesClient, Map<string, AedesPacket>>();
  /** Held-back packets being written now (they pass authorizeForward unchanged). */
  private flushing = new WeakSet<object>();
  readonly stats = { heldBack: 0, disconnected: 0 };

  constructor(private backlogBytes: number, private disconnectBytes: number, private logger: Logger) {}

  /** Wraps a new connection before aedes gets it. */
  adopt(socket: net.Socket): void {
    const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
    (socket as unknown as { write: (...a: unknown[]) => boolean }).write = (...a) => {
      write(...a);
      return true;
    };
    socket.on("drain", () => {
      const client = (socket as unknown as { client?: AedesClient }).client;
      if (client) this.flush(client);
    });
    socket.once("close", () => {
      const client = (socket as unknown as { client?: AedesClient }).client;
      if (client) this.backlogs.delete(client);
    });
  }

  /** authorizeForward's second half: the packet to write now, or null (held back or client dropped). */
  forward(client: AedesClient, packet: AedesPacket & { qos?: number }): AedesPacket | null {
    if (this.flushing.has(packet)) return packet;
    const waiting = client.conn.writableLength ?? 0;
    const backlog = this.backlogs.get(client);
    if (waiting > this.disconnectBytes) {
      this.stats.disconnected++;
      this.logger.warn("embedded broker: disconnecting a subscriber that does not read its messages", {
        clientId: client.id,
        waitingBytes: waiting,
      });
      this.backlogs.delete(client);
      queueMicrotask(() => client.conn.destroy());
      return null;
    }
    if ((packet.qos ?? 0) === 0 && (backlog || waiting > this.backlogBytes)) {
      const held = backlog ?? new Map<string, AedesPacket>();
      if (!backlog) {
        this.backlogs.set(client, held);
        this.logger.debug("embedded broker: subscriber behind; holding back its QoS-0 messages", {
          clientId: client.id,
          waitingBytes: waiting,
        });
      }
      held.delete(packet.topic); // re-insert: written in the order of their last update
      held.set(packet.topic, packet);
      this.stats.heldBack++;
      return null;
    }
    backlog?.delete(packet.topic); // a newer QoS-1 message of the topic overtakes the held-back value
    return packet;
  }

  private flush(client: AedesClient): void {
    const held = this.backlogs.get(client);
    if (!held) return;
    this.backlogs.delete(client);
    if (client.closed) return;
    for (const p of held.values()) {
      // no brokerId: aedes's per-client dedupe lets it through
      const out = { ...p, brokerId: undefined };
      this.flushing.add(out);
      client.deliver0(out, () => {});
    }
  }
}

export class EmbeddedBroker {
  private server?: net.Server;
  private broker?: Aedes;
  private rapClients = new Set<string>();
  /** brokerCounters of retained publishes being delivered. */
  private retainedInFlight = new Set<number>();
  port = 0;
  readonly stats = { refused: 0, stuck: 0 };
  private ordering?: { pending(): number; stop(): void };
  readonly slow: SlowSubscribers;

  constructor(
    private listen: ListenAddress,
    private logger: Logger,
    private options: EmbeddedBrokerOptions = {},
  ) {
    this.slow = new SlowSubscribers(
      options.backlogBytes ?? 4 * 1024 * 1024,
      options.disconnectBytes ?? 64 * 1024 * 1024,
      logger,
    );
  }

  /** URL for clients on this machine (loopback for a wildcard listen address). */
  get url(): string {
    return listenUri({ host: this.listen.host, port: this.port }, !!this.options.tls);
  }

  /**
   * Messages to this client keep the retain flag they were published with, also when delivered live (the
   * bridges in this process: a retained command is then refused as with mosquitto's retain-as-published).
   */
  retainAsPublished(clientId: string): void {
    this.rapClients.add(clientId);
  }

  async start(): Promise<{ port: number; url: string }> {
    const o = this.options;
    const log = this.logger;
    const broker = await Aedes.createBroker({
      authenticate: (client, username, password, cb) => {
        if (o.username === undefined) return cb(null, true);
        if (username === o.username && sameSecret(password, o.password ?? "")) return cb(null, true);
        this.stats.refused++;
        const anonymous = username === undefined;
        log.warn(
          anonymous
            ? "embedded broker refused a connection without credentials"
            : "embedded broker refused a connection: bad user name or password",
          { clientId: client?.id, username },
        );
        const err = Object.assign(new Error(anonymous ? "not authorized" : "bad user name or password"), {
          returnCode: anonymous ? 5 : 4,
        });
        cb(err as Parameters<typeof cb>[0], false);
      },
      authorizeForward: (client, packet) => {
        let out = packet;
        if (this.rapClients.has(client.id) && this.retainedInFlight.has(packet.brokerCounter)) {
          out = { ...packet, retain: true } as typeof packet;
        }
        return this.slow.forward(client as unknown as AedesClient, out) as typeof packet | null;
      },
    });
    this.broker = broker;
    this.ordering = deliverInOrder(broker as unknown as AedesInternals, {
      onEmit: (m) => {
        if (m.retain) this.retainedInFlight.add(m.brokerCounter);
      },
      onDelivered: (m) => {
        if (m.retain) this.retainedInFlight.delete(m.brokerCounter);
      },
      onStuck: (counter) => {
        this.stats.stuck++;
        log.warn("embedded broker: a publish did not reach its subscribers in time; delivering the others", {
          brokerCounter: counter,
        });
      },
    });
    const aedesHandle = broker.handle as unknown as (socket: net.Socket) => void;
    const handle = (socket: net.Socket) => {
      this.slow.adopt(socket);
      aedesHandle(socket);
    };
    const server = o.tls
      ? tls.createServer({ cert: Buffer.from(o.tls.cert), key: Buffer.from(o.tls.key) }, (s) => {
        s.setNoDelay(true);
        handle(s);
      })
      : net.createServer({ noDelay: true }, handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        void this.stop();
        reject(
          new MqttError(
            "unreachable",
            `embedded MQTT broker cannot listen on ${this.listen.host}:${this.listen.port}: ${
              err.code ?? err.message
            }`,
          ),
        );
      });
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    server.on("error", (err) => log.error("embedded broker error", { error: err }));
    if (o.tls) {
      server.on("tlsClientError", (err) => log.debug("TLS handshake failed", { error: err.message }));
    }
    log.info("embedded MQTT broker listening", {
      url: this.url,
      listen: `${this.listen.host}:${this.port}`,
      tls: !!o.tls,
      credentials: o.username !== undefined,
    });
    return { port: this.port, url: this.url };
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    const server = this.server;
    this.broker = undefined;
    this.server = undefined;
    this.ordering?.stop();
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
    if (server?.listening) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** The running embedded broker of a config, and how this process's own clients reach it. */
export interface StartedEmbeddedBroker {
  url: string;
  username?: string;
  password?: string;
  /** false with TLS: the in-process link does not verify its own broker's certificate. */
  rejectUnauthorized: boolean;
  broker: EmbeddedBroker;
  stop(): Promise<void>;
}

/** Validates the [mqtt] listen* keys (MqttError "config" naming the key) and starts the broker. */
export async function startEmbeddedBroker(m: MqttConfig, logger: Logger): Promise<StartedEmbeddedBroker> {
  const s = embeddedBrokerSettings(m);
  const broker = new EmbeddedBroker(s.listen, logger, s);
  const { url } = await broker.start();
  return {
    url,
    username: s.username,
    password: s.password,
    rejectUnauthorized: !s.tls,
    broker,
    stop: () => broker.stop(),
  };
}
