// PURE: D-Bus values. Signature parsing, variant ⇄ JSON (spec §2) and the BusItem reply shapes.
// Variants are modelled structurally as {signature, value}, which is also the shape of dbus-next's Variant,
// so values received from dbus-next can be passed in as is. A dictionary may also come as a list of
// [key, value] pairs (the decoder's form when its keys would be reordered by a JS object).
// No I/O, no timers, no logging.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A D-Bus variant: a signature of one complete type and its value (nested variants are variants too). */
export interface DbusVariant {
  signature: string;
  value: unknown;
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** A valid D-Bus object path ("/" or "/A/b_1/…"). */
export function isValidObjectPath(p: string): boolean {
  return p === "/" || /^(\/[A-Za-z0-9_]+)+$/.test(p);
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

/**
 * Variant → JSON text for the wire: as variantToJson, except that a D-Bus double keeps its type (20.0 is
 * written `20.0`, as Python's json.dumps does in dbus-mqtt; integers stay integers), 64-bit integers are
 * written exactly, and dictionary members keep their D-Bus order. Compact (no spaces).
 */
export function variantToJsonText(v: DbusVariant): string {
  const s = v.signature;
  if (s.length === 1) {
    const x = v.value;
    switch (s) {
      case "d":
        return doubleText(x);
      case "s":
      case "o":
      case "g":
        return typeof x === "string" ? JSON.stringify(x) : "null";
      case "v":
        return isVariantLike(x) ? variantToJsonText(x) : "null";
      default:
        return scalarText(x);
    }
  }
  const t = sigTree(s);
  if (!t) return "null";
  return textOf(t, v.value);
}

/** A double as JSON text with a fractional part or exponent: 20 → "20.0", NaN/±Infinity → "null". */
function doubleText(x: unknown): string {
  if (typeof x !== "number") return scalarText(x);
  if (!Number.isFinite(x)) return "null";
  if (!Number.isInteger(x)) return "" + x;
  if (x === 0) return 1 / x < 0 ? "-0.0" : "0.0";
  // ≥ 1e21 prints with an exponent ("1e+21") and is already a float literal
  return x < 1e21 && x > -1e21 ? x + ".0" : "" + x;
}

function scalarText(x: unknown): string {
  switch (typeof x) {
    case "number":
      return Number.isFinite(x) ? "" + x : "null";
    case "bigint":
      return x.toString();
    case "boolean":
      return x ? "true" : "false";
    case "string":
      return JSON.stringify(x);
    default:
      return "null";
  }
}

function textOf(t: SigNode, x: unknown): string {
  switch (t.type) {
    case "d":
      return doubleText(x);
    case "v":
      return isVariantLike(x) ? variantToJsonText(x) : "null";
    case "a": {
      const el = t.child[0];
      if (el.type === "{") {
        const vt = el.child[1];
        let out = "{";
        if (Array.isArray(x)) {
          for (const e of x) {
            if (!Array.isArray(e) || e.length !== 2) continue;
            if (out.length > 1) out += ",";
            out += JSON.stringify(String(e[0])) + ":" + textOf(vt, e[1]);
          }
        } else if (x !== null && typeof x === "object") {
          for (const k in x as Record<string, unknown>) {
            if (!Object.hasOwn(x, k)) continue;
            if (out.length > 1) out += ",";
            out += JSON.stringify(k) + ":" + textOf(vt, (x as Record<string, unknown>)[k]);
          }
        } else return "null";
        return out + "}";
      }
      if (x instanceof Uint8Array) return x.length === 0 ? "null" : "[" + x.join(",") + "]";
      if (!Array.isArray(x) || x.length === 0) return "null";
      let out = "[";
      for (let i = 0; i < x.length; i++) out += (i ? "," : "") + textOf(el, x[i]);
      return out + "]";
    }
    case "(": {
      if (!Array.isArray(x)) return "null";
      let out = "[";
      for (let i = 0; i < t.child.length; i++) out += (i ? "," : "") + textOf(t.child[i], x[i]);
      return out + "]";
    }
    default:
      return scalarText(x);
  }
}

// ------------------------------------------------------------------------------------------------
// JSON → D-Bus

const INT32_MIN = -2147483648, INT32_MAX = 2147483647;

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

/** The members of a decoded dictionary (a plain object or [key, value] pairs), in order; else undefined. */
export function dictEntries(x: unknown): [string, unknown][] | undefined {
  if (Array.isArray(x)) {
    const out: [string, unknown][] = [];
    for (const e of x) {
      if (!Array.isArray(e) || e.length !== 2) return undefined;
      out.push([String(e[0]), e[1]]);
    }
    return out;
  }
  if (x === null || typeof x !== "object" || x instanceof Uint8Array) return undefined;
  return Object.entries(x as Record<string, unknown>);
}

/** `GetItems` / `ItemsChanged` body (`a{sa{sv}}`) → absolute path → Value variant. Entries without Value are skipped. */
export function itemsFromGetItems(body: unknown): DecodeResult<Map<string, DbusVariant>> {
  const entries = dictEntries(body);
  if (!entries) return { ok: false, error: "GetItems reply is not a dictionary" };
  const out = new Map<string, DbusVariant>();
  for (const [path, props] of entries) {
    if (!isValidObjectPath(path) || path === "/") continue;
    const v = valueFromPropertiesChanged(props);
    if (v) out.set(path, v);
  }
  return { ok: true, value: out };
}

/** Root `GetValue` reply (a variant holding `a{sv}` with relative keys) → absolute path → variant. */
export function itemsFromRootValue(v: unknown): DecodeResult<Map<string, DbusVariant>> {
  const entries = isVariantLike(v) && v.signature.startsWith("a{s") ? dictEntries(v.value) : undefined;
  if (!isVariantLike(v) || !entries) {
    return {
      ok: false,
      error: `GetValue on / did not return a dictionary (signature ${isVariantLike(v) ? v.signature : "?"})`,
    };
  }
  const out = new Map<string, DbusVariant>();
  const inner = v.signature === "a{sv}";
  for (const [rel, val] of entries) {
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
  if (Array.isArray(body)) {
    for (const e of body) if (Array.isArray(e) && e[0] === "Value" && isVariantLike(e[1])) return e[1];
    return undefined;
  }
  const v = (body as Record<string, unknown>)["Value"];
  return isVariantLike(v) ? v : undefined;
}
