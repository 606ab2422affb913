// The stdin/stdout protocol of the benchmark helper processes: one JSON document per line each way.

const encoder = new TextEncoder();

/** Writes one JSON line on stdout (synchronously, so the parent sees it at once). */
export function reply(o: unknown): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(o) + "\n"));
}

/** The JSON lines arriving on stdin, one at a time, until stdin closes. */
export async function* commands(): AsyncGenerator<Record<string, any>> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of Deno.stdin.readable) {
    buf += decoder.decode(chunk, { stream: true });
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      yield JSON.parse(line);
    }
  }
}
