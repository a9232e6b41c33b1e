// What the launcher needs to know about a Redis URL: where it points, whether that is this machine's
// default loopback address (so a private redis-server may stand in), and how to print it without its
// password.
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]', '']);

export interface RedisTarget {
  host: string;
  port: number;
  /** The host is a loopback default, so a private redis-server may be started on `port`. */
  local: boolean;
  username: string;
  password: string;
}

/** Parses `redis://` and `rediss://` URLs; null for anything else (a socket path, a typo). */
export function parseRedisUrl(url: string): RedisTarget | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return null;
  const port = parsed.port ? Number(parsed.port) : 6379;
  return {
    host: parsed.hostname,
    port,
    // A TLS URL needs a TLS server, which the private redis-server is not.
    local: parsed.protocol === 'redis:' && LOCAL_HOSTS.has(parsed.hostname.toLowerCase()),
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
}

/**
 * The same URL pointed at 127.0.0.1, the only address the private redis-server binds: `localhost` may
 * resolve to ::1 first, and `::1` itself would not reach it.
 */
export function loopbackUrl(url: string): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  return parsed.toString();
}

/** The URL with its password (user-info or `password=` query parameter) replaced by `***`. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^@/]*)@/, (_match, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon === -1 ? '//***@' : `//${userinfo.slice(0, colon)}:***@`;
    });
  }
}
