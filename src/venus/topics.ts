// PURE: the Venus (dbus-mqtt) topic contract.
//  - D-Bus service name ⇄ (serviceType, deviceInstance); the blocked items
//  - N/R/W topics ⇄ (portal, type, instance, path); the `<type>/<instance>` device reference
//  - payload encode/decode ({"value": x})
// No I/O, no timers, no logging.

import {
  type DbusVariant,
  type DecodeResult,
  isValidObjectPath,
  type JsonValue,
  variantToJson,
  variantToJsonText,
} from "./variant.ts";

export const VICTRON_PREFIX = "com.victronenergy.";

// ------------------------------------------------------------------------------------------------
// Service names

/** True for `com.victronenergy.<type>[.<suffix>]` with a non-empty type. */
export function isVictronService(name: string): boolean {
  return serviceType(name) !== undefined;
}

/** The serviceType (third dot-component) of a Victron bus name, else undefined. */
export function serviceType(name: string): string | undefined {
  if (!name.startsWith(VICTRON_PREFIX)) return undefined;
  const rest = name.slice(VICTRON_PREFIX.length);
  const dot = rest.indexOf(".");
  const type = dot < 0 ? rest : rest.slice(0, dot);
  if (!/^[A-Za-z0-9_-]+$/.test(type)) return undefined;
  return type;
}

/** The device instance from the value of `/DeviceInstance`: a non-negative integer, else 0. */
export function deviceInstanceOf(v: DbusVariant | undefined): number {
  if (!v) return 0;
  const j = variantToJson(v);
  if (typeof j === "number" && Number.isInteger(j) && j >= 0) return j;
  if (typeof j === "string" && /^\d{1,9}$/.test(j)) return Number(j);
  return 0;
}

/** Items neither Victron bridge ever publishes (spec §1 "Blocked"), by service type → paths. */
const BLOCKED_ITEMS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  vebus: Object.freeze(["/Interfaces/Mk2/Tunnel"]),
  paygo: Object.freeze(["/LVD/Threshold"]),
});

/** Is (service type, path) a blocked item that is never published? */
export function isBlockedItem(type: string, path: string): boolean {
  const paths = BLOCKED_ITEMS[type];
  return paths !== undefined && paths.includes(path);
}

// ------------------------------------------------------------------------------------------------
// Topics

/**
 * A device reference as `dbus list` prints it and topics carry it: `<type>/<instance>` ("battery/512"),
 * optionally followed by a path ("battery/512/Dc/0/Voltage"). Undefined when `ref` is not of that form.
 */
export function parseDeviceRef(ref: string): { type: string; instance: number; path?: string } | undefined {
  const m = /^([A-Za-z0-9_-]+)\/(\d{1,9})(\/.*)?$/.exec(ref);
  if (!m) return undefined;
  return { type: m[1], instance: Number(m[2]), ...(m[3] !== undefined ? { path: m[3] } : {}) };
}

/** `<type>/<instance><path>` — the part of an N/R/W topic after the portal id ("pvinverter/20/Ac/Power"). */
export function relativeTopic(type: string, instance: number | string, path: string): string {
  return `${type}/${instance}${path}`;
}

/** `N/<portal>/<type>/<instance>/<path without leading slash>`. */
export function notificationTopic(
  portal: string,
  type: string,
  instance: number | string,
  path: string,
): string {
  return `N/${portal}/${type}/${instance}${path}`;
}

export type RequestTopic =
  | { kind: "keepalive"; portal: string }
  | { kind: "read" | "write"; portal: string; type: string; instance: number; path: string }
  | { kind: "foreign"; portal: string }
  | { kind: "invalid"; reason: string };

/**
 * Parses an R/… or W/… topic. `ownPortal` decides between "foreign" (another portal id, ignored) and the rest.
 * Wildcards, empty levels, a non-numeric instance and characters a D-Bus path cannot hold are "invalid".
 */
export function parseRequestTopic(topic: string, ownPortal: string): RequestTopic {
  const levels = topic.split("/");
  const head = levels[0];
  if (head !== "R" && head !== "W") return { kind: "invalid", reason: "not an R/ or W/ topic" };
  if (levels.length < 2 || levels[1] === "") return { kind: "invalid", reason: "no portal id" };
  const portal = levels[1];
  if (topic.includes("+") || topic.includes("#")) {
    return { kind: "invalid", reason: "wildcards are not supported" };
  }
  if (portal !== ownPortal) return { kind: "foreign", portal };
  if (levels.length === 3 && levels[2] === "keepalive") {
    if (head === "R") return { kind: "keepalive", portal };
    return { kind: "invalid", reason: "keepalive is a read request (R/<portal>/keepalive)" };
  }
  if (levels.length < 5) return { kind: "invalid", reason: "expected <type>/<instance>/<path>" };
  const type = levels[2];
  if (!/^[A-Za-z0-9_-]+$/.test(type)) return { kind: "invalid", reason: `bad service type "${type}"` };
  const inst = levels[3];
  if (!/^\d{1,9}$/.test(inst)) return { kind: "invalid", reason: `bad device instance "${inst}"` };
  const path = "/" + levels.slice(4).join("/");
  if (!isValidObjectPath(path)) return { kind: "invalid", reason: `bad D-Bus path "${path}"` };
  return { kind: head === "R" ? "read" : "write", portal, type, instance: Number(inst), path };
}

// ------------------------------------------------------------------------------------------------
// Payloads

/** `{"value": <json>}` (dbus-mqtt style, as in the customer's README); NaN/Infinity become null. */
export function encodeValuePayload(v: JsonValue): string {
  return '{"value": ' + JSON.stringify(v) + "}";
}

/** `{"value": <json>}` of a D-Bus value, doubles kept as doubles (`20.0`), dictionaries in D-Bus order. */
export function encodeVariantPayload(v: DbusVariant): string {
  return '{"value": ' + variantToJsonText(v) + "}";
}

/** The payload of `N/<portal>/full_publish_completed`. */
export function encodeFullPublishCompleted(unixSeconds: number, echo?: string): string {
  if (echo === undefined) return encodeValuePayload(unixSeconds);
  return JSON.stringify({ "full-publish-completed-echo": echo, value: unixSeconds });
}

/** A write payload: a JSON object with a "value" member. */
export function decodeWritePayload(text: string): DecodeResult<JsonValue> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: `payload is not JSON: ${JSON.stringify(text.slice(0, 80))}` };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return {
      ok: false,
      error: `payload must be a JSON object {"value": …}, got ${JSON.stringify(text.slice(0, 80))}`,
    };
  }
  if (!Object.hasOwn(parsed, "value")) {
    return { ok: false, error: `payload has no "value" member: ${text.slice(0, 80)}` };
  }
  return { ok: true, value: (parsed as { value: JsonValue }).value };
}
