// The query of GET /tasks (CONTRACT section 3): status and task_type filters (one or a comma list), a
// page size and the cursor of the previous page. The route parses with it and the OpenAPI document
// lists its fields as the query parameters. Every bad parameter is reported at once, each under its
// own name (an unknown type under `task_type` even when it came as its alias `type`).
import { z } from 'zod';
import { TaskType } from '../config/schema.js';
import { TASK_STATUSES, type TaskStatus } from '../model/status.js';
import { quoteInput } from './zod-details.js';

export const LIST_LIMIT = { min: 1, max: 1000, default: 100 } as const;

/** Express gives a parameter named twice as an array. */
export const once = () => z.string({ error: 'give it once' });

export const splitList = (text: string): string[] => text.split(',').map((item) => item.trim()).filter(Boolean);

/** Checks each member of a comma list; the query's transform splits it. */
export function commaList(allowed: readonly string[], what: string) {
  return once().superRefine((text, ctx) => {
    for (const item of splitList(text)) {
      if (!allowed.includes(item)) ctx.addIssue({ code: 'custom', message: `unknown ${what} ${quoteInput(item)}; one of ${allowed.join(', ')}` });
    }
  });
}

const StatusList = commaList(TASK_STATUSES, 'status');
export const TypeList = commaList(TaskType.options, 'task type');

/** A whole-number parameter within bounds, checked as the text it arrives as. */
export function wholeNumberParam(bounds: { min: number; max: number; default: number }, description: string) {
  return once()
    .superRefine((text, ctx) => {
      const n = Number(text);
      if (!/^\d+$/.test(text) || n < bounds.min || n > bounds.max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${bounds.min} to ${bounds.max}` });
      }
    })
    .optional()
    // How the document shows the text the check above accepts.
    .meta({ type: 'integer', minimum: bounds.min, maximum: bounds.max, default: bounds.default, description });
}

/** A list cursor is a created-index member (`<15-digit ms>:<id>`), base64url so it is opaque and URL-safe. */
const CURSOR_MEMBER = /^\d{15}:[A-Za-z0-9_.-]{1,128}$/;
export const encodeListCursor = (member: string): string => Buffer.from(member).toString('base64url');
const decodeListCursor = (cursor: string): string => Buffer.from(cursor, 'base64url').toString();

/**
 * The parameters one by one, each checked as the text it arrives as (what the OpenAPI document shows);
 * TaskListQuery turns them into a query.
 */
export const TaskListQueryFields = z.object({
  status: StatusList.optional().meta({
    description: `One status or a comma list of: ${TASK_STATUSES.join(', ')}.`,
    examples: ['failed,timeout'],
  }),
  task_type: TypeList.optional().meta({ description: `One task type or a comma list of: ${TaskType.options.join(', ')}.` }),
  type: once().optional().meta({ description: 'Alias of task_type (task_type wins when both are given).' }),
  limit: wholeNumberParam(LIST_LIMIT, 'Page size.'),
  cursor: once()
    .superRefine((text, ctx) => {
      if (text !== '' && !CURSOR_MEMBER.test(decodeListCursor(text))) ctx.addIssue({ code: 'custom', message: 'not a cursor this server made' });
    })
    .optional()
    .meta({ description: "The previous page's next_cursor." }),
});

export const TaskListQuery = TaskListQueryFields.superRefine(
  (query, ctx) => {
    // The alias is checked here so that its problems carry the parameter's real name, task_type.
    if (typeof query !== 'object' || query === null || query.task_type !== undefined || typeof query.type !== 'string') return;
    const parsed = TypeList.safeParse(query.type);
    for (const issue of parsed.error?.issues ?? []) ctx.addIssue({ code: 'custom', path: ['task_type'], message: issue.message });
  },
  // Run even when other parameters failed, so every problem is reported in one answer.
  { when: () => true },
).transform((query) => {
  const statuses = splitList(query.status ?? '') as TaskStatus[];
  const types = splitList(query.task_type ?? query.type ?? '') as TaskType[];
  const result: { statuses?: TaskStatus[]; types?: TaskType[]; limit: number; cursor?: string } = {
    limit: query.limit === undefined ? LIST_LIMIT.default : Number(query.limit),
  };
  if (statuses.length) result.statuses = statuses;
  if (types.length) result.types = types;
  if (query.cursor) result.cursor = decodeListCursor(query.cursor);
  return result;
});
export type TaskListQuery = z.infer<typeof TaskListQuery>;
