// The error of an invalid configuration: every problem, each naming the file, section, key and value.
// Its own small module so the CLI's error mapping does not load the INI parser.

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}
