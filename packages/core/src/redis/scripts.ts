// Loads the engine's own Lua scripts (packages/core/lua, named `name-<numkeys>.lua` like BullMQ's) onto
// an ioredis client as custom commands, so they run by EVALSHA with ioredis's NOSCRIPT fallback.
import { readdirSync, readFileSync } from 'node:fs';
import type { RedisClient } from './connection.js';

const LUA_DIR = new URL('../../lua/', import.meta.url);

interface ScriptFile {
  command: string;
  keys: number;
  lua: string;
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

let cache: ScriptFile[] | undefined;

function scriptFiles(): ScriptFile[] {
  cache ??= readdirSync(LUA_DIR)
    .filter((file) => file.endsWith('.lua'))
    .map((file) => {
      const match = /^(.+)-(\d+)\.lua$/.exec(file);
      if (!match) throw new Error(`Lua script ${file} must be named <name>-<numkeys>.lua`);
      return { command: `te_${camel(match[1]!)}`, keys: Number(match[2]), lua: readFileSync(new URL(file, LUA_DIR), 'utf8') };
    });
  return cache;
}

/** The engine's commands, once defined on a client. */
export interface EngineCommands {
  te_listTasks(...args: Array<string | number>): Promise<unknown[]>;
  te_cancelTask(...args: Array<string | number>): Promise<[string, string]>;
  te_retryTask(...args: Array<string | number>): Promise<[string, string]>;
  te_countTasks(...args: Array<string | number>): Promise<number[]>;
  te_removeExpired(...args: Array<string | number>): Promise<number>;
  te_reconcileCancels(...args: Array<string | number>): Promise<number>;
  te_markOutcome(...args: Array<string | number>): Promise<number>;
  te_reconcileOutcomes(...args: Array<string | number>): Promise<[number, number]>;
  te_linkDependent(...args: Array<string | number>): Promise<string>;
  te_settleHeldTask(...args: Array<string | number>): Promise<string[]>;
  te_finishedLinks(...args: Array<string | number>): Promise<string[][]>;
  te_batchGate(...args: Array<string | number>): Promise<string[]>;
  te_finishedAmong(...args: Array<string | number>): Promise<string[]>;
  te_bookScheduledTasks(...args: Array<string | number>): Promise<number>;
  te_endSchedule(...args: Array<string | number>): Promise<[number, string, number]>;
}

export type EngineRedis = RedisClient & EngineCommands;

export function defineEngineCommands(client: RedisClient): EngineRedis {
  for (const script of scriptFiles()) {
    if (!(script.command in client)) client.defineCommand(script.command, { numberOfKeys: script.keys, lua: script.lua });
  }
  return client as EngineRedis;
}
