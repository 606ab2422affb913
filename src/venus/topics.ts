// PURE: the Venus (dbus-mqtt) contract.
//  - D-Bus service name ⇄ (serviceType, deviceInstance)
//  - N/R/W topics ⇄ (portal, type, instance, path)
//  - payload encode/decode ({"value": x}), keep-alive payload parsing and filter matching
//  - D-Bus variant ⇄ JSON (spec §2). Variants are modelled structurally as {signature, value}, which is
//    also the shape of dbus-next's Variant, so values received from dbus-next can be passed in as is.
// No I/O, no timers, no logging.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A D-Bus variant: a signature of one complete type and its value (nested variants are variants too). */
export interface DbusVariant {
  signature: string;
  value: unknown;
}

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

/** A valid D-Bus object path ("/" or "/A/b_1/…"). */
export function isValidObjectPath(p: string): boolean {
  return p === "/" || /^(\/[A-Za-z0-9_]+)+$/.test(p);
}

// ------------------------------------------------------------------------------------------------
// Topics

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

/** The payload of `N/<portal>/full_publish_completed`. */
export function encodeFullPublishCompleted(unixSeconds: number, echo?: string): string {
  if (echo === undefined) return encodeValuePayload(unixSeconds);
  return JSON.stringify({ "full-publish-completed-echo": echo, value: unixSeconds });
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: string };

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

// ------------------------------------------------------------------------------------------------
// Keep-alive

export interface KeepaliveRequest {
  /** Topic filters relative to N/<portal>/ ("vebus/#", "battery/+/Soc"); null = everything. */
  filters: string[] | null;
  /** The fmq options object was used (`{"keepalive-options": […]}`): republish on every keep-alive. */
  options: boolean;
  suppressRepublish: boolean;
  echo?: string;
  /** Options we did not understand (logged by the bridge). */
  unknownOptions: string[];
}

/** Valid filter: non-empty levels; `+` alone in a level; `#` only as the whole last level. */
export function isValidFilter(f: string): boolean {
  if (f === "") return false;
  const levels = f.split("/");
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l === "") return false;
    if (l.includes("#") && (l !== "#" || i !== levels.length - 1)) return false;
    if (l.includes("+") && l !== "+") return false;
  }
  return true;
}

/**
 * Parses the payload of `R/<portal>/keepalive`:
 *  - empty (or whitespace) → everything;
 *  - a JSON list of filters → selective keep-alive (an empty list means everything);
 *  - `{"keepalive-options": ["suppress-republish", {"full-publish-completed-echo": "<token>"}]}`.
 */
export function parseKeepalivePayload(text: string): DecodeResult<KeepaliveRequest> {
  const base: KeepaliveRequest = {
    filters: null,
    options: false,
    suppressRepublish: false,
    unknownOptions: [],
  };
  if (text.trim() === "") return { ok: true, value: base };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: `keep-alive payload is not JSON: ${JSON.stringify(text.slice(0, 80))}` };
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return { ok: true, value: base };
    const filters: string[] = [];
    for (const f of parsed) {
      if (typeof f !== "string") {
        return { ok: false, error: `keep-alive filter must be a string, got ${JSON.stringify(f)}` };
      }
      const t = f.startsWith("/") ? f.slice(1) : f;
      if (!isValidFilter(t)) return { ok: false, error: `invalid keep-alive filter ${JSON.stringify(f)}` };
      filters.push(t);
    }
    return { ok: true, value: { ...base, filters: [...new Set(filters)] } };
  }
  if (parsed !== null && typeof parsed === "object") {
    const obj = parsed as Record<string, unknown>;
    const opts = obj["keepalive-options"];
    if (!Object.hasOwn(obj, "keepalive-options") || !Array.isArray(opts)) {
      return {
        ok: false,
        error: `keep-alive object must have a "keepalive-options" list: ${text.slice(0, 80)}`,
      };
    }
    const out: KeepaliveRequest = { ...base, options: true, unknownOptions: [] };
    for (const o of opts) {
      if (o === "suppress-republish") out.suppressRepublish = true;
      else if (o !== null && typeof o === "object" && !Array.isArray(o)) {
        for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
          if (k === "full-publish-completed-echo" && typeof v === "string") out.echo = v;
          else out.unknownOptions.push(JSON.stringify({ [k]: v }));
        }
      } else out.unknownOptions.push(JSON.stringify(o));
    }
    return { ok: true, value: out };
  }
  return {
    ok: false,
    error: `keep-alive payload must be empty, a list of filters or an options object: ${text.slice(0, 80)}`,
  };
}

/** A filter split into levels, for repeated matching. */
export type CompiledFilter = readonly string[];

export function compileFilter(filter: string): CompiledFilter {
  return filter.split("/");
}

/** Does the relative topic ("vebus/257/Hub4/L1/AcPowerSetpoint") match the compiled filter? */
export function filterMatchesLevels(f: CompiledFilter, levels: readonly string[]): boolean {
  for (let i = 0; i < f.length; i++) {
    const l = f[i];
    if (l === "#") return true; // also matches the parent level, as in MQTT
    if (i >= levels.length) return false;
    if (l !== "+" && l !== levels[i]) return false;
  }
  return f.length === levels.length;
}

export function filterMatches(filter: string, relTopic: string): boolean {
  return filterMatchesLevels(compileFilter(filter), relTopic.split("/"));
}

// ------------------------------------------------------------------------------------------------
// D-Bus signatures

export interface SigNode {
  type: string; // one character: basic type, "a", "(", "{", "v"
  child: SigNode[];
}

/** Parses a signature into its complete types; throws RangeError on malformed input. */
export function parseSignature(sig: string): SigNode[] {
  let i = 0;
  const one = (): SigNode => {
    if (i >= sig.length) throw new RangeError(`incomplete signature "${sig}"`);
    const c = sig[i++];
    if (c === "a") return { type: "a", child: [one()] };
    if (c === "(") {
      const child: SigNode[] = [];
      while (sig[i] !== ")") {
        if (i >= sig.length) throw new RangeError(`unterminated struct in "${sig}"`);
        child.push(one());
      }
      i++;
      if (child.length === 0) throw new RangeError(`empty struct in "${sig}"`);
      return { type: "(", child };
    }
    if (c === "{") {
      const k = one();
      const v = one();
      if (sig[i++] !== "}") throw new RangeError(`bad dict entry in "${sig}"`);
      return { type: "{", child: [k, v] };
    }
    if ("ybnqiuxtdsogbhv".includes(c)) return { type: c, child: [] };
    throw new RangeError(`unknown type code "${c}" in "${sig}"`);
  };
  const out: SigNode[] = [];
  while (i < sig.length) out.push(one());
  return out;
}

export function signatureOf(n: SigNode): string {
  if (n.type === "a") return "a" + signatureOf(n.child[0]);
  if (n.type === "(") return "(" + n.child.map(signatureOf).join("") + ")";
  if (n.type === "{") return "{" + signatureOf(n.child[0]) + signatureOf(n.child[1]) + "}";
  return n.type;
}

// ------------------------------------------------------------------------------------------------
// D-Bus → JSON

const sigCache = new Map<string, SigNode | null>();
function sigTree(sig: string): SigNode | null {
  let t = sigCache.get(sig);
  if (t === undefined) {
    try {
      const all = parseSignature(sig);
      t = all.length === 1 ? all[0] : null;
    } catch {
      t = null;
    }
    if (sigCache.size < 1000) sigCache.set(sig, t);
  }
  return t;
}

/** True when the variant is the Venus "invalid" value: any empty array. */
export function isInvalidVariant(v: DbusVariant): boolean {
  if (v.signature[0] !== "a") return false;
  const x = v.value;
  if (Array.isArray(x) || x instanceof Uint8Array) return x.length === 0;
  return false;
}

/**
 * Variant → JSON (spec §2): numbers (64-bit as Number), booleans, strings, arrays, a{..} → object,
 * struct → array, byte arrays → arrays of numbers; NaN/±Infinity → null; any empty array → null (invalid).
 */
export function variantToJson(v: DbusVariant): JsonValue {
  // Fast paths for the common scalar types.
  const s = v.signature;
  if (s.length === 1) {
    if (s === "d") return Number.isFinite(v.value as number) ? (v.value as number) : null;
    if (s !== "v") return scalarToJson(v.value);
  }
  const t = sigTree(s);
  if (!t) return null;
  return convert(t, v.value);
}

function scalarToJson(x: unknown): JsonValue {
  switch (typeof x) {
    case "number":
      return Number.isFinite(x) ? x : null;
    case "bigint":
      return Number(x);
    case "string":
    case "boolean":
      return x;
    default:
      return null;
  }
}

/** obj[k] = v, also for k = "__proto__" (an own property, never the prototype). */
function setKey<T>(o: Record<string, T>, k: string, v: T): void {
  if (k === "__proto__") {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else o[k] = v;
}

function isVariantLike(x: unknown): x is DbusVariant {
  return x !== null && typeof x === "object" && typeof (x as DbusVariant).signature === "string" &&
    "value" in (x as object);
}

function convert(t: SigNode, x: unknown): JsonValue {
  switch (t.type) {
    case "v":
      return isVariantLike(x) ? variantToJson(x) : null;
    case "a": {
      const el = t.child[0];
      if (el.type === "{") {
        if (Array.isArray(x)) {
          // [[k, v], …] form
          const o: { [k: string]: JsonValue } = {};
          for (const e of x) {
            if (Array.isArray(e) && e.length === 2) setKey(o, String(e[0]), convert(el.child[1], e[1]));
          }
          return o;
        }
        if (x === null || typeof x !== "object") return null;
        const o: { [k: string]: JsonValue } = {};
        for (const [k, val] of Object.entries(x as Record<string, unknown>)) {
          setKey(o, k, convert(el.child[1], val));
        }
        return o;
      }
      if (x instanceof Uint8Array) return x.length === 0 ? null : Array.from(x);
      if (!Array.isArray(x)) return null;
      if (x.length === 0) return null;
      return x.map((e) => convert(el, e));
    }
    case "(":
      if (!Array.isArray(x)) return null;
      return t.child.map((c, i) => convert(c, x[i]));
    default:
      return scalarToJson(x);
  }
}

// ------------------------------------------------------------------------------------------------
// JSON → D-Bus

const INT32_MIN = -2147483648, INT32_MAX = 2147483647;

/** The invalid value: an empty int32 array. */
export const INVALID_VARIANT: DbusVariant = Object.freeze({ signature: "ai", value: Object.freeze([]) });

/**
 * JSON → variant (spec §2): integer → int32 if it fits, else int64 (as bigint), else double; other numbers →
 * double; boolean → b; string → s; null → empty `ai` (invalid); arrays → typed arrays when homogeneous
 * (empty → `au`), else `av`; objects → `a{sv}`.
 */
export function jsonToVariant(j: JsonValue): DbusVariant {
  if (j === null) return { signature: "ai", value: [] };
  switch (typeof j) {
    case "boolean":
      return { signature: "b", value: j };
    case "string":
      return { signature: "s", value: j };
    case "number":
      if (Number.isInteger(j)) {
        if (j >= INT32_MIN && j <= INT32_MAX) return { signature: "i", value: j === 0 ? 0 : j };
        if (Number.isSafeInteger(j)) return { signature: "x", value: BigInt(j) };
      }
      return { signature: "d", value: j };
  }
  if (Array.isArray(j)) {
    if (j.length === 0) return { signature: "au", value: [] };
    const items = j.map(jsonToVariant);
    const first = items[0].signature;
    let same = items.every((it) => it.signature === first);
    let sig = first;
    // Mixed int32/int64/double numbers → one numeric type.
    if (!same && items.every((it) => it.signature === "i" || it.signature === "x" || it.signature === "d")) {
      if (items.some((it) => it.signature === "d")) {
        sig = "d";
        for (const it of items) it.value = Number(it.value), it.signature = "d";
      } else {
        sig = "x";
        for (const it of items) it.value = BigInt(it.value as number | bigint), it.signature = "x";
      }
      same = true;
    }
    // Nested empty arrays/invalid values would make the element type ambiguous: fall back to av.
    if (same && !(sig.startsWith("a") && items.some((it) => (it.value as unknown[]).length === 0))) {
      return { signature: "a" + sig, value: items.map((it) => it.value) };
    }
    return { signature: "av", value: items };
  }
  const o: Record<string, DbusVariant> = {};
  for (const [k, v] of Object.entries(j)) setKey(o, k, jsonToVariant(v));
  return { signature: "a{sv}", value: o };
}

// ------------------------------------------------------------------------------------------------
// BusItem replies

/** `GetItems` / `ItemsChanged` body (`a{sa{sv}}`) → absolute path → Value variant. Entries without Value are skipped. */
export function itemsFromGetItems(body: unknown): DecodeResult<Map<string, DbusVariant>> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { ok: false, error: "GetItems reply is not a dictionary" };
  }
  const out = new Map<string, DbusVariant>();
  for (const [path, props] of Object.entries(body as Record<string, unknown>)) {
    if (!isValidObjectPath(path) || path === "/") continue;
    if (props === null || typeof props !== "object") continue;
    const v = (props as Record<string, unknown>)["Value"];
    if (isVariantLike(v)) out.set(path, v);
  }
  return { ok: true, value: out };
}

/** Root `GetValue` reply (a variant holding `a{sv}` with relative keys) → absolute path → variant. */
export function itemsFromRootValue(v: unknown): DecodeResult<Map<string, DbusVariant>> {
  if (
    !isVariantLike(v) || !v.signature.startsWith("a{s") || v.value === null || typeof v.value !== "object"
  ) {
    return {
      ok: false,
      error: `GetValue on / did not return a dictionary (signature ${isVariantLike(v) ? v.signature : "?"})`,
    };
  }
  const out = new Map<string, DbusVariant>();
  const inner = v.signature === "a{sv}";
  for (const [rel, val] of Object.entries(v.value as Record<string, unknown>)) {
    const path = "/" + rel.replace(/^\/+/, "");
    if (!isValidObjectPath(path) || path === "/") continue;
    if (inner) {
      if (isVariantLike(val)) out.set(path, val);
    } else out.set(path, { signature: v.signature.slice(3, -1), value: val });
  }
  return { ok: true, value: out };
}

/** `PropertiesChanged(a{sv})` body → the new Value, if the signal carries one. */
export function valueFromPropertiesChanged(body: unknown): DbusVariant | undefined {
  if (body === null || typeof body !== "object") return undefined;
  const v = (body as Record<string, unknown>)["Value"];
  return isVariantLike(v) ? v : undefined;
}
