// The API keys of CONTRACT section 6. Keys are held only as SHA-256 digests (config may give the digest
// itself, so the plain key never sits in config.yaml), and a presented key is compared with every
// digest in constant time, so neither the answer nor its timing says how close a guess came.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config, TaskType } from '@taskengine/core';

export interface Principal {
  /** For logs and rate limiting: the key's configured name, or a short digest prefix; never the key. */
  name: string;
  /** Task types this key may touch; null for all. */
  taskTypes: ReadonlySet<TaskType> | null;
}

interface StoredKey extends Principal {
  digest: Buffer;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class ApiKeyring {
  private readonly keys: StoredKey[];

  constructor(entries: Config['auth']['api_keys']) {
    this.keys = entries.map((entry) => {
      const spec = typeof entry === 'string' ? { key: entry } : entry;
      const digest = spec.key_sha256 ? Buffer.from(spec.key_sha256, 'hex') : sha256(spec.key!);
      return {
        digest,
        name: spec.name ?? `key-${digest.toString('hex').slice(0, 8)}`,
        taskTypes: spec.task_types ? new Set(spec.task_types) : null,
      };
    });
  }

  /** No keys configured: the API is open. */
  get open(): boolean {
    return this.keys.length === 0;
  }

  /** The key's principal, or null. Every stored digest is compared, whichever matches. */
  authenticate(presented: string): Principal | null {
    const digest = sha256(presented);
    let found: StoredKey | null = null;
    for (const key of this.keys) {
      if (timingSafeEqual(key.digest, digest) && !found) found = key;
    }
    return found && { name: found.name, taskTypes: found.taskTypes };
  }
}

/** The principal of an open API: everything allowed. */
export const ANONYMOUS: Principal = { name: 'anonymous', taskTypes: null };
