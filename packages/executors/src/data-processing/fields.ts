// Field access for the pipeline, by name only: no expression is ever evaluated. A field is a name or a
// dotted path into nested objects (`user.age`); only own properties are read, so `__proto__`,
// `constructor` and the like can never reach a prototype, and the schema refuses them as names anyway.
// Values are compared by type (numbers with numbers, strings with strings) without coercion.
import { canonicalJson } from '@taskengine/core';

export type Row = Record<string, unknown>;

/** Names no field path segment may use (refused at creation). */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

export function fieldPathProblem(path: string): string | null {
  const segments = path.split('.');
  if (segments.some((segment) => segment === '')) return 'must not have empty segments (a leading, trailing or double dot)';
  const reserved = segments.find((segment) => RESERVED.has(segment));
  return reserved ? `"${reserved}" is a reserved name` : null;
}

export function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function own(container: unknown, key: string): unknown {
  return typeof container === 'object' && container !== null && Object.hasOwn(container, key)
    ? (container as Record<string, unknown>)[key]
    : undefined;
}

export interface Field {
  /** The path as the payload wrote it; also the key under which select, group_by and rename write. */
  name: string;
  get(row: Row): unknown;
}

/**
 * A reader for `path`. A key spelled exactly like the whole path wins (so `user.age` written by a
 * select, or a CSV header with a dot, reads back), else the dotted segments are walked.
 */
export function field(path: string): Field {
  const segments = path.split('.');
  if (segments.length === 1) return { name: path, get: (row) => own(row, path) };
  return {
    name: path,
    get(row) {
      if (Object.hasOwn(row, path)) return row[path];
      let value: unknown = row;
      for (const segment of segments) {
        value = own(value, segment);
        if (value === undefined) return undefined;
      }
      return value;
    },
  };
}

/** `row` without the value at `path`, copying only the objects on the way (rows are never mutated). */
export function without(row: Row, path: string): Row {
  if (Object.hasOwn(row, path)) return Object.fromEntries(Object.entries(row).filter(([key]) => key !== path));
  return removeAt(row, path.split('.'), 0) as Row;
}

function removeAt(value: unknown, segments: string[], index: number): unknown {
  const key = segments[index]!;
  if (!isRow(value) || !Object.hasOwn(value, key)) return value;
  if (index === segments.length - 1) return Object.fromEntries(Object.entries(value).filter(([name]) => name !== key));
  return { ...value, [key]: removeAt(value[key], segments, index + 1) };
}

export const isMissing = (value: unknown): value is null | undefined => value === undefined || value === null;

/** Same JSON value: primitives by identity, objects and arrays by content. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && canonicalJson(a) === canonicalJson(b);
}

const rank = (value: unknown): number => {
  if (isMissing(value)) return 4;
  if (typeof value === 'number') return 0;
  if (typeof value === 'string') return 1;
  if (typeof value === 'boolean') return 2;
  return 3;
};

/** A total order for sort, min and max: numbers, then strings, then booleans, then objects; missing last. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 4) return 0;
  const x = ra === 3 ? canonicalJson(a) : (a as number | string | boolean);
  const y = ra === 3 ? canonicalJson(b) : (b as number | string | boolean);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** For gt/gte/lt/lte: the order of two numbers or two strings; undefined when they are not comparable. */
export function orderOf(a: unknown, b: unknown): number | undefined {
  const comparable = (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
  return comparable ? compareValues(a, b) : undefined;
}

/** A string key for a list of values (group_by, distinct). */
export const keyOf = (values: unknown[]): string => canonicalJson(values.map((value) => value ?? null));
