// The data_processing payload (CONTRACT section 4). Everything that can be judged from the request is
// judged here, at creation: an unknown op, a field name that is reserved, a filter value of the wrong
// kind, a source whose format cannot be told from its extension, a path leaving the root.
import { z } from 'zod';
import { JailedPath, namesRoot } from '../guards/path-jail.js';
import { fieldPathProblem, isRow, type Row } from './fields.js';

export const FORMATS = ['json', 'ndjson', 'csv'] as const;
export const Format = z.enum(FORMATS);
export type Format = z.infer<typeof Format>;

const EXTENSIONS: Record<string, Format> = { json: 'json', ndjson: 'ndjson', jsonl: 'ndjson', csv: 'csv' };

/** The format a file name implies, if any. */
export function formatOfFile(file: string): Format | undefined {
  const match = /\.([A-Za-z0-9]+)$/.exec(file);
  return match ? EXTENSIONS[match[1]!.toLowerCase()] : undefined;
}

export const FieldPath = z
  .string()
  .min(1)
  .max(256)
  .superRefine((path, ctx) => {
    const problem = fieldPathProblem(path);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** One field or a list of them. */
const Fields = z.union([FieldPath.transform((name) => [name]), z.array(FieldPath).min(1).max(32)]);

export const FILTER_OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'contains', 'exists'] as const;

const Where = z
  .strictObject({ field: FieldPath, op: z.enum(FILTER_OPS), value: z.unknown().optional() })
  .superRefine((where, ctx) => {
    const problem = whereValueProblem(where.op, where.value);
    if (problem) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
  });

function whereValueProblem(op: (typeof FILTER_OPS)[number], value: unknown): string | null {
  switch (op) {
    case 'exists':
      return value === undefined || typeof value === 'boolean' ? null : 'must be true or false (default true)';
    case 'in':
      return Array.isArray(value) && value.length <= 10_000 ? null : 'must be a list of at most 10000 values';
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return typeof value === 'number' || typeof value === 'string' ? null : 'must be a number or a string';
    default:
      return value === undefined ? 'is required' : null;
  }
}

export const AGGREGATE_FNS = ['count', 'sum', 'avg', 'min', 'max'] as const;

const Aggregation = z
  .strictObject({ fn: z.enum(AGGREGATE_FNS), field: FieldPath.optional() })
  .refine((agg) => agg.fn === 'count' || agg.field !== undefined, { path: ['field'], message: 'is required by this fn (only count may omit it)' });

const count = z.number().int().min(0);

export const FilterStep = z.strictObject({ op: z.literal('filter'), where: Where });
export const SelectStep = z.strictObject({ op: z.literal('select'), fields: z.array(FieldPath).min(1).max(256) });
export const RenameStep = z.strictObject({
  op: z.literal('rename'),
  fields: z.record(FieldPath, FieldPath).refine((fields) => Object.keys(fields).length > 0, 'must rename at least one field'),
});
export const SortStep = z.strictObject({ op: z.literal('sort'), by: Fields, order: z.enum(['asc', 'desc']).default('asc') });
export const GroupByStep = z
  .strictObject({
    op: z.literal('group_by'),
    by: Fields.optional(),
    aggregations: z.record(FieldPath, Aggregation).default({}),
  })
  .superRefine((step, ctx) => {
    for (const name of Object.keys(step.aggregations)) {
      if (step.by?.includes(name)) ctx.addIssue({ code: 'custom', path: ['aggregations', name], message: 'is also a group_by field' });
    }
  });
export const DistinctStep = z.strictObject({ op: z.literal('distinct'), by: Fields.optional() });
export const LimitStep = z.strictObject({ op: z.literal('limit'), n: count });
export const OffsetStep = z.strictObject({ op: z.literal('offset'), n: count });

export const Step = z.discriminatedUnion('op', [
  FilterStep,
  SelectStep,
  RenameStep,
  SortStep,
  GroupByStep,
  DistinctStep,
  LimitStep,
  OffsetStep,
]);
export type Step = z.infer<typeof Step>;
export type StepOf<Op extends Step['op']> = Extract<Step, { op: Op }>;

/** Inline items are kept as given (not copied key by key), so what the client sent is what is processed. */
const InlineRow = z.custom<Row>(isRow, 'must be an object');

const Source = z
  .strictObject({ file: JailedPath, format: Format.optional(), cast: z.boolean().optional() })
  .superRefine((source, ctx) => {
    const format = source.format ?? formatOfFile(source.file);
    if (!format) ctx.addIssue({ code: 'custom', path: ['format'], message: 'is required: the file name does not end in .json, .ndjson, .jsonl or .csv' });
    else if (source.cast !== undefined && format !== 'csv') ctx.addIssue({ code: 'custom', path: ['cast'], message: 'only applies to csv sources' });
  });

const Destination = z.strictObject({
  file: JailedPath.refine((path) => !namesRoot(path), 'path_outside_root: the root folder itself cannot be written'),
});

export const DataProcessingPayload = z
  .strictObject({
    items: z.array(InlineRow).optional(),
    source: Source.optional(),
    operations: z.array(Step).max(64).default([]),
    format: Format.optional(),
    destination: Destination.optional(),
  })
  .superRefine((payload, ctx) => {
    if ((payload.items === undefined) === (payload.source === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['items'], message: 'give exactly one of items or source' });
    }
  });
export type DataProcessingPayload = z.infer<typeof DataProcessingPayload>;

export type SourceFormat = { format: Format; cast: boolean };

/** The source's format: as given, else from the file extension (the schema made sure one applies). */
export function sourceFormat(source: NonNullable<DataProcessingPayload['source']>): SourceFormat {
  return { format: source.format ?? formatOfFile(source.file) ?? 'json', cast: source.cast ?? true };
}

/** The output format: as given, else the destination's extension, else json. */
export function outputFormat(payload: DataProcessingPayload): Format {
  return payload.format ?? (payload.destination ? formatOfFile(payload.destination.file) : undefined) ?? 'json';
}
