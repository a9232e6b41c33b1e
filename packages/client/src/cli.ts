#!/usr/bin/env node
// Entry point of the `taskengine` command (bin): runs main and leaves with its exit code.
import { main } from './cli/main.js';

// `taskengine list | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});

// Exit as soon as the output is flushed: fetch's idle keep-alive connections would otherwise hold the
// process open for a while after the last answer.
const flushed = (stream: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
