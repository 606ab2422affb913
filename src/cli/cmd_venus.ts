import type { CliContext, ProgramWithGlobals } from "./main.ts";

// Placeholder: the venus commands are registered here.
export function registerVenusCommands(_program: ProgramWithGlobals, _ctx: CliContext): void {}
