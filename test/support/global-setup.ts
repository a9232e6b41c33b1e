// Finds the Redis the test suite runs on (DESIGN.md, "Tests"): REDIS_URL when set, else a throwaway
// redis-server on a free port. Test files read TEST_REDIS_URL and use a key prefix of their own.
import { startRedisServer } from './redis-server.js';

export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) {
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  const server = await startRedisServer();
  process.env.TEST_REDIS_URL = server.url;
  (globalThis as Record<string, unknown>).__TEST_REDIS__ = server;
}
