// Waiting in tests: every wait has a deadline, so a hang fails the test instead of blocking the suite.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `pred` (sync or async) until it holds; throws "timed out waiting for <what>" after `ms`, with
 * `dump()` appended when given (what the test saw instead).
 */
export async function until(
  pred: () => boolean | Promise<boolean>,
  what = "condition",
  ms = 5000,
  dump?: () => unknown,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${dump ? `\n${JSON.stringify(dump(), null, 1).slice(0, 3000)}` : ""}`,
      );
    }
    await sleep(10);
  }
}

/** Rejects with "timed out: <what>" when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms))),
  ]);
}
