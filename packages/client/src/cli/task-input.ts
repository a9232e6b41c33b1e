// Task bodies from files for `submit`: one JSON object (--file) or NDJSON, one body a line (--ndjson).
// NDJSON lines are checked against the engine's own TaskCreate schema before anything is sent, so a bad
// line is reported with its number and no task of the file is created.
import { readFile } from 'node:fs/promises';
import { TaskCreate } from '@taskengine/core/contracts/task-create';
import { zodDetails } from '@taskengine/core/contracts/zod-details';
import type { ErrorDetail } from '../types.js';
import { UsageError, type Io } from './command.js';

/** A file's text, or stdin's for `-`. */
export async function readInput(path: string, io: Io, flag: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A JSON object from a flag's text; a usage error naming the flag otherwise. */
export function jsonObject(text: string, flag: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${flag} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`--${flag} must be a JSON object`);
  return value as Record<string, unknown>;
}

export interface LineProblem {
  line: number;
  path: string;
  message: string;
}

export interface NdjsonTasks {
  bodies: TaskCreate[];
  /** File line number of each body (blank lines are skipped). */
  lines: number[];
  problems: LineProblem[];
}

export function parseNdjson(text: string): NdjsonTasks {
  const result: NdjsonTasks = { bodies: [], lines: [], problems: [] };
  const idLines = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      result.problems.push({ line, path: '(line)', message: `not valid JSON: ${(err as Error).message}` });
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      result.problems.push({ line, path: '(line)', message: 'must be a JSON object (one task body)' });
      return;
    }
    const parsed = TaskCreate.safeParse(value);
    if (!parsed.success) {
      result.problems.push(...zodDetails(parsed.error).map((d) => ({ line, ...d })));
      return;
    }
    const id = parsed.data.id;
    if (id !== undefined) {
      const first = idLines.get(id);
      if (first !== undefined) result.problems.push({ line, path: 'id', message: `repeats the id of line ${first}` });
      else idLines.set(id, line);
    }
    result.bodies.push(value as TaskCreate);
    result.lines.push(line);
  });
  return result;
}

/** The server's `tasks[i].…` problems of one batch as file lines. */
export function batchProblemsToLines(details: ErrorDetail[], lines: number[]): LineProblem[] {
  return details.map((detail) => {
    const match = /^tasks\[(\d+)\]\.?(.*)$/.exec(detail.path);
    const line = match ? lines[Number(match[1])] : undefined;
    return line === undefined ? { line: 0, path: detail.path, message: detail.message } : { line, path: match![2] || '(line)', message: detail.message };
  });
}

export const formatLineProblem = (p: LineProblem): string => (p.line ? `line ${p.line}: ${p.path}: ${p.message}` : `${p.path}: ${p.message}`);
