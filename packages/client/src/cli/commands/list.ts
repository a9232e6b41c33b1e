// `taskengine list`: tasks newest first, one page or (--all) every page.
import type { TaskListResponse, TaskObject, TaskStatus, TaskType } from '../../types.js';
import { defineCommand, numberOption } from '../command.js';
import { table } from '../output.js';

/** A comma list flag as its values (`--status failed,timeout`). */
export const commaList = <T extends string>(value: string | undefined): T[] | undefined =>
  value === undefined ? undefined : (value.split(',').map((s) => s.trim()).filter(Boolean) as T[]);

function rows(tasks: TaskObject[]): string[][] {
  return tasks.map((t) => [t.id, t.type, t.status, t.priority_name, `${t.progress}%`, t.created_at, t.name]);
}

export default defineCommand({
  name: 'list',
  description: 'List tasks, newest first. Filters take one value or a comma list.',
  options: {
    status: { type: 'string', short: 's', value: '<status,…>', description: 'pending, queued, running, completed, failed, cancelled, timeout' },
    type: { type: 'string', short: 't', value: '<type,…>', description: 'task type, e.g. custom' },
    limit: { type: 'string', short: 'n', value: '<n>', description: 'tasks per page, 1-1000 (default 100)' },
    cursor: { type: 'string', value: '<cursor>', description: 'start at this page (next_cursor of the previous one)' },
    all: { type: 'boolean', short: 'a', description: 'follow next_cursor through every page' },
  },
  examples: ['taskengine list --status failed,timeout', 'taskengine list --type custom --all --json', 'taskengine list -n 20 --cursor <next_cursor>'],
  async run(ctx, values) {
    const query = {
      status: commaList<TaskStatus>(values.status),
      type: commaList<TaskType>(values.type),
      limit: numberOption(values.limit, 'limit', { integer: true, min: 1, max: 1000 }),
      cursor: values.cursor,
    };
    let page: TaskListResponse;
    if (values.all) {
      const tasks: TaskObject[] = [];
      let first: TaskListResponse | undefined;
      for await (const each of ctx.client.listTaskPages(query)) {
        first ??= each;
        tasks.push(...each.tasks);
      }
      // One document for the whole listing: the first page's envelope holding every task.
      page = { ...first!, tasks, count: tasks.length, next_cursor: null };
    } else {
      page = await ctx.client.listTasks(query);
    }
    if (ctx.json) {
      ctx.printJson(page);
      return 0;
    }
    if (page.tasks.length) table(['ID', 'TYPE', 'STATUS', 'PRIORITY', 'PROGRESS', 'CREATED', 'NAME'], rows(page.tasks)).forEach((l) => ctx.out(l));
    ctx.out(`${page.count} of ${page.total} tasks${page.next_cursor ? `; next page: --cursor ${page.next_cursor} (or --all)` : ''}`);
    return 0;
  },
});
