// The Venus simulator for `ess2mqtt demo`: a private dbus-daemon with the realistic base services.
import type { Logger } from "../log.ts";

export async function startVenusDemo(logger: Logger): Promise<{ address: string; stop(): Promise<void> }> {
  const { VenusSim } = await import("./venus.ts");
  const { startDbusDaemon } = await import("./dbus_daemon.ts");
  const bus = await startDbusDaemon();
  const sim = new VenusSim({
    address: bus.address,
    logger: logger.child({ component: "venus_sim" }),
    nightCycleMs: 120_000,
    nightMs: 30_000,
  });
  try {
    await sim.start();
  } catch (err) {
    await sim.stop();
    await bus.stop();
    throw err;
  }
  return {
    address: bus.address,
    stop: async () => {
      await sim.stop();
      await bus.stop();
    },
  };
}
