// Placeholder until the Venus simulator lands.
import type { Logger } from "../log.ts";
export function startVenusDemo(_logger: Logger): Promise<{ address: string; stop(): Promise<void> }> {
  return Promise.reject(new Error("Venus simulator not available"));
}
