// The launcher's own log lines: short, plain, on stderr and prefixed `[taskengine]`, so they stand out
// between the api's and the worker's output. Callers pass URLs through maskUrl first; nothing here
// ever sees a password.
export function log(message: string): void {
  process.stderr.write(`[taskengine] ${message}\n`);
}
