// A dbus-next MessageBus over a connection whose receive side is ours.
//
// dbus-next's own connection (lib/connection.js) reads every message with two stream.read() calls, parses
// the header generically, converts the body and validates it into a Message: ~40 µs per signal here. This
// connection keeps dbus-next for everything else — the socket is opened the way dbus-next opens it
// (node:net), authentication is dbus-next's handshake, sending is dbus-next's marshaller, and method calls,
// replies, serials and Hello are dbus-next's MessageBus — but reads the socket in flowing mode, splits
// messages itself (dbus_wire.ts) and hands signals of the `fastInterface` straight to `onFastSignal`
// without building a Message. Method returns are decoded by dbus_wire.ts as well (the same values, except
// that dictionaries keep their D-Bus order) and handed to the MessageBus as dbus-next Messages. Every other
// message (errors, method calls, other signals) is decoded by dbus-next exactly as before.
//
// Consequence: fast signals never reach MessageBus ("message" event, proxy-object signal subscriptions).

import { EventEmitter } from "node:events";
import net from "node:net";
import { Buffer } from "node:buffer";
import dbus from "dbus-next";
// dbus-next internals (pinned by deno.lock): the MessageBus class, the client handshake, the marshaller and
// the message decoder its connection uses.
import MessageBusClass from "dbus-next/lib/bus.js";
import clientHandshake from "dbus-next/lib/handshake.js";
import marshallCompat from "dbus-next/lib/marshall-compat.js";
import DBusBuffer from "dbus-next/lib/dbus-buffer.js";
import constants from "dbus-next/lib/constants.js";
import headerSignature from "dbus-next/lib/header-signature.json" with { type: "json" };
import { DbusMessageSplitter, decodeBody, decodeHeader, MESSAGE_TYPE, type WireHeader } from "./dbus_wire.ts";

type MessageBus = dbus.MessageBus;

/** A signal as delivered to listeners (a dbus-next Message has the same fields). */
export interface DbusSignal {
  serial: number | null;
  sender: string;
  path: string;
  interface: string;
  member: string;
  signature: string;
  body: unknown[];
}

export interface BusConnectionOptions {
  /** One D-Bus address (`unix:path=…`, `unix:socket=…` (abstract: `\0name`), `tcp:host=…,port=…`). */
  address: string;
  authMethods: string[];
  /** Signals of this interface go to onFastSignal instead of the MessageBus. */
  fastInterface?: string;
  onFastSignal?: (s: DbusSignal) => void;
}

export interface BusConnection {
  bus: MessageBus;
  /** The socket (close/destroy/"close" event). */
  stream: net.Socket;
  /** Counters: messages through the fast path / through dbus-next. */
  stats: { fast: number; slow: number; chunks: number; listenerErrors: number };
}

/** The socket for an address, opened the way dbus-next opens it (its native unix socket addon doesn't load). */
function openStream(address: string): net.Socket {
  for (const a of address.split(";")) {
    const colon = a.indexOf(":");
    const family = a.slice(0, colon).toLowerCase();
    const params: Record<string, string> = {};
    for (const p of a.slice(colon + 1).split(",")) {
      const eq = p.indexOf("=");
      if (eq > 0) params[p.slice(0, eq)] = p.slice(eq + 1);
    }
    if (family === "tcp") return net.createConnection(Number(params.port), params.host || "localhost");
    if (family === "unix") {
      if (params.socket) return net.createConnection(params.socket);
      if (params.path) return net.createConnection(params.path);
      if (params.abstract) return net.createConnection("\0" + params.abstract);
    }
  }
  throw new Error(
    `unsupported D-Bus address "${address}" (use unix:path=…, unix:abstract=… or tcp:host=…,port=…)`,
  );
}

/** dbus-next's decoding of one message, step for step as in its connection's reader (lib/message.js). */
function dbusNextDecode(bytes: Uint8Array): Record<string, unknown> {
  const le = bytes[0] === constants.endianness.le;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fieldsLength = dv.getUint32(12, le);
  const bodyLength = dv.getUint32(4, le);
  // A copy: the bytes may be a view into a chunk.
  const buf = new DBusBuffer(Buffer.from(bytes.subarray(16)), 0, bytes[0], undefined, { ayBuffer: true });
  const fields = buf.readArray(headerSignature[0].child[0], fieldsLength);
  buf.align(3);
  const message: Record<string, unknown> = { serial: dv.getUint32(8, le) };
  for (const f of fields) message[constants.headerTypeName[f[0]]] = f[1][1][0];
  message.type = bytes[1];
  message.flags = bytes[2];
  if (bodyLength > 0 && message.signature) message.body = buf.read(message.signature);
  return message;
}

/** Opens the socket and creates the MessageBus on it (authentication and Hello run in the background). */
export function createBusConnection(o: BusConnectionOptions): BusConnection {
  const stream = openStream(o.address);
  stream.setNoDelay?.(true);
  const conn = new EventEmitter() as EventEmitter & {
    stream: net.Socket;
    message(msg: unknown): void;
    end(): unknown;
    state?: string;
    guid?: string;
  };
  conn.stream = stream;
  const stats = { fast: 0, slow: 0, chunks: 0, listenerErrors: 0 };
  const queued: unknown[] = [];
  const write = (msg: unknown) => {
    if (!stream.writable) throw new Error("Cannot send message, stream is closed");
    const [data] = marshallCompat.marshallMessage(msg);
    stream.write(data);
  };
  conn.message = (msg) => queued.push(msg); // until the handshake is done
  conn.end = () => {
    stream.end();
    return conn;
  };
  stream.on("error", (err) => conn.emit("error", err));
  stream.on("end", () => {
    conn.emit("end");
    conn.message = () => conn.emit("error", new Error("Tried to write a message to a closed stream"));
  });

  const splitter = new DbusMessageSplitter();
  const fastIface = o.fastInterface;
  const onFast = o.onFastSignal;
  const onMessage = (bytes: Uint8Array) => {
    let h: WireHeader | undefined;
    if (fastIface && onFast && bytes[1] === MESSAGE_TYPE.signal) {
      h = decodeHeader(bytes);
      if (h.interface === fastIface && !h.unixFds) {
        stats.fast++;
        const sig: DbusSignal = {
          serial: h.serial,
          sender: h.sender ?? "",
          path: h.path ?? "",
          interface: h.interface,
          member: h.member ?? "",
          signature: h.signature,
          body: h.bodyLength > 0 && h.signature ? decodeBody(bytes, h) : [],
        };
        try {
          onFast(sig);
        } catch {
          stats.listenerErrors++; // a listener's bug must not end the connection
        }
        return;
      }
    }
    stats.slow++;
    let m: unknown;
    try {
      if (bytes[1] === MESSAGE_TYPE.methodReturn) {
        // Replies are decoded by dbus_wire.ts too (same values as dbus-next, but dictionaries keep their
        // D-Bus order), then handed to the MessageBus as a dbus-next Message.
        h ??= decodeHeader(bytes);
        if (!h.unixFds) {
          m = new dbus.Message({
            type: h.type,
            serial: h.serial,
            flags: h.flags,
            replySerial: h.replySerial as unknown as string, // a number at run time, as from dbus-next
            destination: h.destination,
            sender: h.sender,
            signature: h.signature,
            body: h.bodyLength > 0 && h.signature ? decodeBody(bytes, h) : [],
          });
        }
      }
      m ??= new dbus.Message(marshallCompat.messageToJsFmt(dbusNextDecode(bytes)));
    } catch (err) {
      conn.emit("error", err);
      return;
    }
    conn.emit("message", m);
  };

  const afterHandshake = (error: unknown, guid: string) => {
    if (error) {
      conn.emit("error", error);
      return;
    }
    conn.guid = guid;
    conn.state = "connected";
    conn.message = write;
    // The handshake read with a 'readable' listener that it removes right after this callback: switch to
    // flowing mode once it is gone (no I/O callback can run before then).
    queueMicrotask(() => {
      stream.on("data", (chunk: Uint8Array) => {
        stats.chunks++;
        try {
          splitter.push(chunk, onMessage);
        } catch (err) {
          // A framing error leaves the stream unusable: report and close.
          conn.emit("error", err);
          stream.destroy();
        }
      });
      stream.resume();
    });
    conn.emit("connect");
    for (const m of queued.splice(0)) write(m);
  };
  const start = () => clientHandshake(stream, { authMethods: o.authMethods }, afterHandshake);
  stream.once("connect", start);

  const bus = new MessageBusClass(conn) as MessageBus;
  return { bus, stream, stats };
}
