// The package's version, read from its package.json (one source for --version and the User-Agent).
import { readFileSync } from 'node:fs';

export const CLIENT_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
