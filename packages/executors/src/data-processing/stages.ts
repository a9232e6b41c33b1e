// The pipeline's stages, each an async-iterable transform of rows, so a file source streams through
// them: filter, select, rename, offset and limit hold one row at a time (limit stops pulling, which
// stops the source reading); distinct keeps only the keys it has seen; sort buffers rows (bounded by
// max_buffered_items, or offset + n of a limit right after it); group_by keeps one set of
// accumulators per group (bounded by max_groups).
import { TaskError } from '@taskengine/core';
import { compareValues, field, isMissing, keyOf, orderOf, sameValue, without, type Field, type Row } from './fields.js';
import type { StepOf } from './payload.js';

export type Stage = (input: AsyncIterable<Row>) => AsyncIterable<Row>;

export interface StageLimits {
  maxBufferedItems: number;
  maxGroups: number;
}

const tooMany = (what: string, limit: number, key: string, hint: string): TaskError =>
  new TaskError('too_many_items', `${what} over ${limit} (executors.data_processing.${key}); ${hint}`, { retryable: false });

function mapStage(transform: (row: Row) => Row): Stage {
  return async function* (input) {
    for await (const row of input) yield transform(row);
  };
}

export function filterStage(step: StepOf<'filter'>): Stage {
  const test = predicate(step.where.op, step.where.value);
  const get = field(step.where.field).get;
  return async function* (input) {
    for await (const row of input) if (test(get(row))) yield row;
  };
}

type Test = (value: unknown) => boolean;

function predicate(op: StepOf<'filter'>['where']['op'], expected: unknown): Test {
  switch (op) {
    case 'eq':
      return (value) => sameValue(value, expected);
    case 'ne':
      return (value) => !sameValue(value, expected);
    case 'gt':
      return (value) => (orderOf(value, expected) ?? 0) > 0;
    case 'gte':
      return (value) => (orderOf(value, expected) ?? -1) >= 0;
    case 'lt':
      return (value) => (orderOf(value, expected) ?? 0) < 0;
    case 'lte':
      return (value) => (orderOf(value, expected) ?? 1) <= 0;
    case 'in': {
      const list = expected as unknown[];
      const primitives = new Set(list.filter((item) => typeof item !== 'object' || item === null));
      const objects = list.filter((item) => typeof item === 'object' && item !== null);
      return (value) => primitives.has(value) || objects.some((item) => sameValue(value, item));
    }
    case 'contains':
      return (value) =>
        typeof value === 'string'
          ? typeof expected === 'string' && value.includes(expected)
          : Array.isArray(value) && value.some((item) => sameValue(item, expected));
    case 'exists': {
      const wanted = expected !== false;
      return (value) => (value !== undefined) === wanted;
    }
  }
}

/** Keeps the named fields, under the names as written; a field the row lacks is left out. */
export function selectStage(step: StepOf<'select'>): Stage {
  const fields = step.fields.map(field);
  return mapStage((row) => {
    const picked: Array<[string, unknown]> = [];
    for (const f of fields) {
      const value = f.get(row);
      if (value !== undefined) picked.push([f.name, value]);
    }
    return Object.fromEntries(picked);
  });
}

/** Moves each `from` value to the top-level key `to`; a top-level field keeps its place, a nested one is appended. */
export function renameStage(step: StepOf<'rename'>): Stage {
  const pairs = Object.entries(step.fields).map(([from, to]) => ({ from: field(from), to }));
  return mapStage((row) => {
    let out = row;
    for (const { from, to } of pairs) {
      const value = from.get(out);
      if (value === undefined) continue;
      if (Object.hasOwn(out, from.name)) {
        out = Object.fromEntries(
          Object.entries(out).flatMap(([key, v]): Array<[string, unknown]> => (key === from.name ? [[to, v]] : key === to ? [] : [[key, v]])),
        );
      } else {
        out = { ...without(without(out, from.name), to), [to]: value };
      }
    }
    return out;
  });
}

export function offsetStage(step: StepOf<'offset'>): Stage {
  return async function* (input) {
    let skipped = 0;
    for await (const row of input) {
      if (skipped < step.n) skipped += 1;
      else yield row;
    }
  };
}

/** Returns after n rows: the for-await exit closes every stage above it and the source file. */
export function limitStage(step: StepOf<'limit'>): Stage {
  return async function* (input) {
    if (step.n === 0) return;
    let taken = 0;
    for await (const row of input) {
      yield row;
      taken += 1;
      if (taken >= step.n) return;
    }
  };
}

export function distinctStage(step: StepOf<'distinct'>, limits: StageLimits): Stage {
  const fields = step.by?.map(field);
  const keyFor = fields ? (row: Row) => keyOf(fields.map((f) => f.get(row))) : (row: Row) => keyOf([row]);
  return async function* (input) {
    const seen = new Set<string>();
    for await (const row of input) {
      const key = keyFor(row);
      if (seen.has(key)) continue;
      if (seen.size >= limits.maxGroups) throw tooMany('distinct keys', limits.maxGroups, 'max_groups', 'filter first or distinct by fewer fields');
      seen.add(key);
      yield row;
    }
  };
}

/**
 * Stable sort; missing and null values last in either order. With `keep` (a limit follows), the buffer
 * is cut back to the best `keep` rows whenever it doubles, so sort + limit runs in bounded memory.
 */
export function sortStage(step: StepOf<'sort'>, limits: StageLimits, keep?: number): Stage {
  const fields = step.by.map(field);
  const sign = step.order === 'desc' ? -1 : 1;
  const compare = (a: Row, b: Row): number => {
    for (const f of fields) {
      const x = f.get(a);
      const y = f.get(b);
      if (isMissing(x) || isMissing(y)) {
        if (isMissing(x) !== isMissing(y)) return isMissing(x) ? 1 : -1;
        continue;
      }
      const order = compareValues(x, y);
      if (order !== 0) return order * sign;
    }
    return 0;
  };
  const cutAt = keep !== undefined && keep * 2 <= limits.maxBufferedItems ? Math.max(keep * 2, 1024) : undefined;
  return async function* (input) {
    const buffer: Row[] = [];
    for await (const row of input) {
      buffer.push(row);
      if (cutAt !== undefined && buffer.length >= cutAt) {
        buffer.sort(compare);
        buffer.length = keep!;
      } else if (buffer.length > limits.maxBufferedItems) {
        throw tooMany('sort holds', limits.maxBufferedItems, 'max_buffered_items', 'filter first, or add a limit right after the sort');
      }
    }
    buffer.sort(compare);
    if (keep !== undefined && buffer.length > keep) buffer.length = keep;
    yield* buffer;
  };
}

interface Accumulator {
  add(row: Row): void;
  result(): unknown;
}

type AggregationSpec = StepOf<'group_by'>['aggregations'][string];

function accumulator(spec: AggregationSpec): () => Accumulator {
  const get = spec.field ? field(spec.field).get : undefined;
  switch (spec.fn) {
    case 'count':
      // count without a field counts rows; with one, rows where it is present and not null.
      return () => {
        let n = 0;
        return { add: (row) => void (get === undefined || !isMissing(get(row)) ? (n += 1) : 0), result: () => n };
      };
    case 'sum':
    case 'avg':
      // Numbers only: a string or a missing value is skipped rather than coerced.
      return () => {
        let total = 0;
        let n = 0;
        return {
          add: (row) => {
            const value = get!(row);
            if (typeof value === 'number') {
              total += value;
              n += 1;
            }
          },
          result: () => (spec.fn === 'sum' ? total : n === 0 ? null : total / n),
        };
      };
    case 'min':
    case 'max': {
      const better = spec.fn === 'min' ? -1 : 1;
      return () => {
        let best: unknown = null;
        return {
          add: (row) => {
            const value = get!(row);
            if (!isMissing(value) && (best === null || compareValues(value, best) * better > 0)) best = value;
          },
          result: () => best,
        };
      };
    }
  }
}

/**
 * One row per group, in the order groups first appear: `{<by>: value, <aggregation>: value}`. Without
 * `by`, one row of totals over all rows (even none: count 0).
 */
export function groupByStage(step: StepOf<'group_by'>, limits: StageLimits): Stage {
  const by: Field[] = (step.by ?? []).map(field);
  const specs = Object.entries(step.aggregations).map(([name, spec]) => ({ name, create: accumulator(spec) }));
  return async function* (input) {
    const groups = new Map<string, { values: unknown[]; accumulators: Accumulator[] }>();
    const open = (values: unknown[]) => ({ values, accumulators: specs.map((spec) => spec.create()) });
    if (by.length === 0) groups.set('', open([]));
    for await (const row of input) {
      const values = by.map((f) => f.get(row) ?? null);
      const key = by.length === 0 ? '' : keyOf(values);
      let group = groups.get(key);
      if (!group) {
        if (groups.size >= limits.maxGroups) throw tooMany('groups', limits.maxGroups, 'max_groups', 'filter first or group by fewer values');
        group = open(values);
        groups.set(key, group);
      }
      for (const acc of group.accumulators) acc.add(row);
    }
    for (const { values, accumulators } of groups.values()) {
      yield Object.fromEntries([
        ...by.map((f, i): [string, unknown] => [f.name, values[i]]),
        ...specs.map(({ name }, i): [string, unknown] => [name, accumulators[i]!.result()]),
      ]);
    }
  };
}
