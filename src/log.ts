// Logger: stderr only (stdout belongs to --json output and the TUI).
// Text lines on a TTY (coloured unless NO_COLOR), JSON lines otherwise.
// A ring buffer keeps the most recent entries for the TUI's log pane.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface LogEntry {
  time: Date;
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry (e.g. `{ component: "lxp" }`). */
  child(fields: LogFields): Logger;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LEVEL_COLOUR: Record<LogLevel, string> = {
  debug: "\x1b[90m",
  info: "\x1b[36m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};

export interface LogSinkOptions {
  level: LogLevel;
  /** JSON lines (default: when stderr is not a terminal). */
  json: boolean;
  colour: boolean;
  write: (line: string) => void;
  /** Entries kept in memory for the TUI; 0 disables the ring. */
  ringSize: number;
}

/** Where log entries go; one per process, shared by every child logger. */
export class LogSink {
  readonly ring: LogEntry[] = [];
  private listeners = new Set<(e: LogEntry) => void>();
  constructor(public options: LogSinkOptions) {}

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= LEVEL_RANK[this.options.level];
  }

  onEntry(listener: (e: LogEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(entry: LogEntry): void {
    if (this.options.ringSize > 0) {
      this.ring.push(entry);
      if (this.ring.length > this.options.ringSize) this.ring.shift();
    }
    for (const l of this.listeners) l(entry);
    if (this.options.write) this.options.write(this.format(entry));
  }

  format(e: LogEntry): string {
    if (this.options.json) {
      return JSON.stringify({
        time: e.time.toISOString(),
        level: e.level,
        msg: e.msg,
        ...safeFields(e.fields),
      });
    }
    const extra = Object.entries(e.fields)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(safeValue(v))}`)
      .join(" ");
    const lvl = e.level.toUpperCase().padEnd(5);
    const head = this.options.colour ? `${LEVEL_COLOUR[e.level]}${lvl}\x1b[0m` : lvl;
    return `${e.time.toISOString()} ${head} ${e.msg}${extra ? " " + extra : ""}`;
  }
}

function safeValue(v: unknown): unknown {
  if (v instanceof Error) return v.message;
  if (typeof v === "bigint") return v.toString();
  return v;
}

function safeFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = safeValue(v);
  return out;
}

class SinkLogger implements Logger {
  constructor(private sink: LogSink, private base: LogFields) {}
  private log(level: LogLevel, msg: string, fields?: LogFields) {
    if (!this.sink.enabled(level)) return;
    this.sink.emit({
      time: new Date(),
      level,
      msg,
      fields: fields ? { ...this.base, ...fields } : this.base,
    });
  }
  debug(msg: string, fields?: LogFields) {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields) {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields) {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields) {
    this.log("error", msg, fields);
  }
  child(fields: LogFields): Logger {
    return new SinkLogger(this.sink, { ...this.base, ...fields });
  }
}

export function loggerFor(sink: LogSink, fields: LogFields = {}): Logger {
  return new SinkLogger(sink, fields);
}

const encoder = new TextEncoder();

/** The process logger: stderr, JSON lines when stderr is not a TTY, NO_COLOR honoured. */
export function createStderrLogger(level: LogLevel = "info", opts: Partial<LogSinkOptions> = {}): {
  logger: Logger;
  sink: LogSink;
} {
  const tty = Deno.stderr.isTerminal();
  const noColour = (Deno.env.get("NO_COLOR") ?? "") !== "";
  const sink = new LogSink({
    level,
    json: !tty,
    colour: tty && !noColour,
    write: (line) => {
      try {
        Deno.stderr.writeSync(encoder.encode(line + "\n"));
      } catch {
        // stderr closed: nothing sensible to do
      }
    },
    ringSize: 0,
    ...opts,
  });
  return { logger: loggerFor(sink), sink };
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** A logger that records entries in memory (tests assert on warnings). */
export function memoryLogger(level: LogLevel = "debug"): { logger: Logger; entries: LogEntry[] } {
  const sink = new LogSink({ level, json: true, colour: false, write: () => {}, ringSize: 0 });
  const entries: LogEntry[] = [];
  sink.onEntry((e) => entries.push(e));
  return { logger: loggerFor(sink), entries };
}
