// Collects the lines of a subprocess's output streams and lets a test wait for a matching line.

export interface LineCollector {
  lines: string[];
  /** Resolves with the first line (already seen or future) matching `pred`; rejects after timeoutMs. */
  waitFor(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves when every stream has ended. */
  done: Promise<void>;
}

export function collectLines(streams: ReadableStream<Uint8Array>[], defaultTimeoutMs = 10000): LineCollector {
  const lines: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.pred(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  };
  return {
    lines,
    done: Promise.all(streams.map(pump)).then(() => {}, () => {}),
    waitFor(pred, timeoutMs = defaultTimeoutMs) {
      const seen = lines.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (l: string) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(
            new Error(`timed out waiting for a matching line; last lines:\n${lines.slice(-20).join("\n")}`),
          );
        }, timeoutMs);
        waiters.push(w);
      });
    },
  };
}
