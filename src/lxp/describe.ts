// PURE: human and JSON descriptions of register values and LXP packets, from the register table and the
// codec's name tables (the CLI's read/write output, `lxp decode`, the TUI).

import {
  EXCEPTION_NAMES,
  FN_READ_INPUT,
  FUNCTION_NAMES,
  type Packet,
  TCP_FUNCTION_NAMES,
  TCP_HEARTBEAT,
  TCP_READ_PARAM,
  TCP_TRANSLATED,
  TCP_WRITE_PARAM,
} from "./frame.ts";
import { decodeInputReply, inputKeyDef } from "./inputs.ts";
import { decodeBits, formatValue, type RegisterDef, registersAt, scaledValue } from "./registers.ts";

export interface RegisterEntry {
  register: number;
  words: number;
  key: string | null;
  name: string;
  raw: number;
  value: number;
  unit: string;
  text: string;
  bits?: Record<string, boolean>;
}

/** Names, scales and units for a run of raw register values (32-bit values combined when both words are present). */
export function describeRegisters(
  bank: "input" | "hold",
  start: number,
  values: number[],
): RegisterEntry[] {
  const out: RegisterEntry[] = [];
  for (let i = 0; i < values.length; i++) {
    const reg = start + i;
    const raw = values[i];
    const here = registersAt(bank, reg);
    const defs: RegisterDef[] = here.filter((d) => d.register === reg);
    let consumed = 1;
    for (const def of defs) {
      if (def.words === 2 && i + 1 >= values.length) {
        out.push(generic(reg, raw, `${def.name} (low word)`, null));
        continue;
      }
      const words = def.words === 2 ? [raw, values[i + 1]] : [raw];
      const value = scaledValue(def, words);
      const entry: RegisterEntry = {
        register: reg,
        words: def.words,
        key: def.key,
        name: def.name,
        raw: def.words === 2 ? raw + values[i + 1] * 65536 : raw,
        value,
        unit: def.unit,
        text: formatValue(def, value),
      };
      const bits = bank === "hold" ? decodeBits(reg, raw) : undefined;
      if (bits) entry.bits = bits;
      out.push(entry);
      consumed = Math.max(consumed, def.words);
    }
    if (defs.length === 0) {
      const owner = here[0];
      out.push(generic(reg, raw, owner ? `${owner.name} (high word)` : "", null));
    }
    i += consumed - 1;
  }
  return out;
}

function generic(register: number, raw: number, name: string, key: string | null): RegisterEntry {
  return { register, words: 1, key, name, raw, value: raw, unit: "", text: String(raw) };
}

export function formatEntries(bank: "input" | "hold", entries: RegisterEntry[]): string {
  const lines: string[] = [];
  const nameWidth = Math.min(40, Math.max(4, ...entries.map((e) => e.name.length)));
  for (const e of entries) {
    const regText = e.words === 2 ? `${e.register}-${e.register + 1}` : String(e.register);
    const name = (e.name || "-").padEnd(nameWidth);
    const raw = e.value !== e.raw || !e.text.includes(String(e.raw)) ? `  (raw ${e.raw})` : "";
    lines.push(`${bank.padEnd(5)} ${regText.padStart(7)}  ${name}  ${e.text}${raw}`);
    if (e.bits) {
      const on = Object.entries(e.bits).filter(([, v]) => v).map(([k]) => k);
      const off = Object.entries(e.bits).filter(([, v]) => !v).map(([k]) => k);
      lines.push(`${"".padEnd(15)}on: ${on.join(" ") || "-"}`);
      lines.push(`${"".padEnd(15)}off: ${off.join(" ") || "-"}`);
    }
  }
  return lines.join("\n");
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function describePacket(p: Packet): { human: string; json: Record<string, unknown> } {
  const tcp = p.kind === "heartbeat"
    ? TCP_HEARTBEAT
    : p.kind === "translated"
    ? TCP_TRANSLATED
    : p.kind === "readParam"
    ? TCP_READ_PARAM
    : TCP_WRITE_PARAM;
  const head = `${TCP_FUNCTION_NAMES[tcp]} (0x${
    tcp.toString(16)
  }), protocol ${p.protocol}, datalog ${p.datalog}`;
  const json: Record<string, unknown> = {
    kind: p.kind,
    tcpFunction: tcp,
    protocol: p.protocol,
    datalog: p.datalog,
  };
  const lines = [head];
  if (p.kind === "heartbeat") {
    json.trailer = p.trailer;
    lines.push(`trailer ${p.trailer}`);
  } else if (p.kind === "readParam" || p.kind === "writeParam") {
    json.param = p.param;
    let line = `param ${p.param}`;
    if (p.value !== undefined) {
      json.value = hexOf(p.value);
      const num = p.value.length === 2 ? p.value[0] | (p.value[1] << 8) : undefined;
      if (num !== undefined) json.valueNumber = num;
      line += `, value ${hexOf(p.value)}${num !== undefined ? ` (${num})` : ""}`;
    }
    if (p.kind === "writeParam" && p.result !== undefined) {
      json.result = p.result;
      line += `, result ${p.result}`;
    }
    lines.push(line);
  } else {
    const base = p.fn & 0x7f;
    const exc = (p.fn & 0x80) !== 0;
    const isReply = exc || p.address !== 0;
    Object.assign(json, {
      address: p.address,
      direction: isReply ? "reply" : "request",
      fn: p.fn,
      function: FUNCTION_NAMES[base] ?? `0x${base.toString(16)}`,
      serial: p.serial,
      register: p.register,
    });
    lines.push(
      `${isReply ? "reply" : "request"} (address ${p.address}), function 0x${
        p.fn.toString(16).padStart(2, "0")
      } ${FUNCTION_NAMES[base] ?? "unknown"}${
        exc ? " EXCEPTION" : ""
      }, inverter ${p.serial}, register ${p.register}`,
    );
    const bank: "input" | "hold" = base === FN_READ_INPUT ? "input" : "hold";
    if (exc) {
      json.exceptionCode = p.exceptionCode;
      json.exception = EXCEPTION_NAMES[p.exceptionCode ?? -1] ?? "unknown";
      lines.push(`exception code ${p.exceptionCode} (${json.exception})`);
    } else if (p.values !== undefined) {
      json.count = p.values.length;
      json.values = p.values;
      if (p.byteCountPresent !== undefined) json.byteCountPresent = p.byteCountPresent;
      lines.push(`${p.values.length} register(s)${p.byteCountPresent === false ? ", no byte count" : ""}`);
      const entries = describeRegisters(bank, p.register, p.values);
      json.registers = entries;
      lines.push(formatEntries(bank, entries));
      if (base === FN_READ_INPUT) {
        const blocks = decodeInputReply(p.register, p.values);
        if (blocks.length) json.inputs = Object.fromEntries(blocks.map((b) => [String(b.block), b.json]));
      }
    } else if (p.value !== undefined) {
      json.value = p.value;
      const entries = describeRegisters("hold", p.register, [p.value]);
      json.registers = entries;
      lines.push(`value ${p.value}`);
      lines.push(formatEntries("hold", entries));
    } else if (p.count !== undefined) {
      json.count = p.count;
      lines.push(`count ${p.count}`);
    }
  }
  return { human: lines.join("\n"), json };
}

/** The octolux JSON of input blocks as text: one line per key with its value, unit and name. */
export function formatInputs(inputs: Record<string, number>): string {
  const keyWidth = Math.max(4, ...Object.keys(inputs).map((k) => k.length));
  const rows = Object.entries(inputs).map(([key, value]) => {
    const def = inputKeyDef(key);
    const text = def?.unit ? `${value} ${def.unit}` : String(value);
    return { key, text, name: def?.name ?? "" };
  });
  const textWidth = Math.max(...rows.map((r) => r.text.length));
  return rows.map((r) => `${r.key.padEnd(keyWidth)}  ${r.text.padEnd(textWidth)}  ${r.name}`.trimEnd()).join(
    "\n",
  );
}
