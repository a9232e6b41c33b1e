// `taskengine schedules list|create|get|delete`: schedules that make a task every n seconds or on a cron
// (CONTRACT section 7). `create` builds the task template from the same flags (or --file) as `submit`.
import type { ScheduleCreate, ScheduleObject } from '../../types.js';
import { defineCommand, numberOption, UsageError, type Context, type OptionValues } from '../command.js';
import { compactJson, fields, table } from '../output.js';
import { bodyFromFlags, TASK_FLAGS } from './submit.js';

/** A run's id, and when it comes due, are the schedule's to decide: submit's flags for those do not apply. */
const { id: _id, delay: _delay, at: _at, ...TEMPLATE_FLAGS } = TASK_FLAGS;

const CREATE_FLAGS = {
  cron: { type: 'string', value: '<expr>', description: 'cron expression: 5 fields (minute first), 6 with seconds first, or @daily, …' },
  timezone: { type: 'string', value: '<zone>', description: 'IANA time zone the cron is read in, e.g. Europe/Berlin (default UTC)' },
  every: { type: 'string', value: '<seconds>', description: 'a run every this many seconds, the first one at once (instead of --cron)' },
  'schedule-name': { type: 'string', value: '<name>', description: "the schedule's name (default: the task's name)" },
  ...TEMPLATE_FLAGS,
  file: { type: 'string', short: 'f', value: '<path>', description: 'the task body, a JSON object (- for stdin); flags override its fields' },
} as const;

type CreateValues = OptionValues<typeof CREATE_FLAGS>;

const ACTIONS = ['list', 'create', 'get', 'delete'] as const;
type Action = (typeof ACTIONS)[number];

const when = (s: ScheduleObject): string => (s.every_seconds !== null ? `every ${s.every_seconds}s` : `cron "${s.cron}" ${s.timezone}`);

function details(s: ScheduleObject): string[] {
  return fields([
    ['id', s.id],
    ['name', s.name],
    ['when', when(s)],
    ['task', `${s.task.type}${s.task.name !== s.task.type ? ` "${s.task.name}"` : ''}, ${s.task.priority_name}`],
    ['payload', compactJson(s.task.payload)],
    ['created', s.created_at],
    ['next run', s.next_run_at ?? undefined],
    ['last run', s.last_run_at ?? undefined],
    ['runs', String(s.runs)],
  ]);
}

async function create(ctx: Context, values: CreateValues): Promise<number> {
  const body: ScheduleCreate = { task: await bodyFromFlags(ctx, values) };
  if (values['schedule-name'] !== undefined) body.name = values['schedule-name'];
  if (values.cron !== undefined) body.cron = values.cron;
  if (values.timezone !== undefined) body.timezone = values.timezone;
  const every = numberOption(values.every, 'every', { integer: true, min: 1 });
  if (every !== undefined) body.every_seconds = every;
  // Both or neither are left to the server, which names the field like any other refusal.
  const answer = await ctx.client.createSchedule(body);
  if (ctx.json) ctx.printJson(answer);
  else ctx.out(`created schedule ${answer.id}  (${when(answer.schedule)}; next run ${answer.schedule.next_run_at ?? 'none'})`);
  return 0;
}

export default defineCommand({
  name: 'schedules',
  args: '<list|create|get|delete> [id]',
  positionals: [1, 2],
  description: [
    'Schedules make a task on a clock: every n seconds (the first run at once) or on a cron expression in a time',
    'zone. Each tick makes exactly one task, which carries schedule_id. `create` takes the task as `submit` does',
    '(flags or --file) plus --cron [--timezone] or --every. `delete` stops the schedule: no run is made after it.',
  ].join('\n'),
  options: CREATE_FLAGS,
  examples: [
    `taskengine schedules create --every 300 --type custom --payload '{"handler":"echo"}'`,
    `taskengine schedules create --cron '0 9 * * 1-5' --timezone Europe/Berlin --schedule-name standup -t custom`,
    'taskengine schedules list',
    'taskengine schedules get 0c6f…',
    'taskengine schedules delete 0c6f…',
  ],
  async run(ctx, values, [action, id]) {
    if (!ACTIONS.includes(action as Action)) throw new UsageError(`unknown action "${action}"; actions: ${ACTIONS.join(', ')}`);
    const createFlags = Object.keys(CREATE_FLAGS).filter((flag) => values[flag as keyof CreateValues] !== undefined);
    if (action !== 'create' && createFlags.length) throw new UsageError(`--${createFlags.join(', --')} go${createFlags.length > 1 ? '' : 'es'} with create`);
    const needsId = action === 'get' || action === 'delete';
    if (needsId && id === undefined) throw new UsageError(`schedules ${action} needs the schedule's id`);
    if (!needsId && id !== undefined) throw new UsageError(`unexpected argument "${id}"`);
    switch (action as Action) {
      case 'create':
        return create(ctx, values);
      case 'list': {
        const answer = await ctx.client.listSchedules();
        if (ctx.json) ctx.printJson(answer);
        else {
          const rows = answer.schedules.map((s) => [s.id, s.task.type, when(s), s.next_run_at ?? '-', s.last_run_at ?? '-', String(s.runs), s.name]);
          if (rows.length) table(['ID', 'TYPE', 'WHEN', 'NEXT RUN', 'LAST RUN', 'RUNS', 'NAME'], rows).forEach((line) => ctx.out(line));
          ctx.out(`${answer.total} ${answer.total === 1 ? 'schedule' : 'schedules'}`);
        }
        return 0;
      }
      case 'get': {
        const schedule = await ctx.client.getSchedule(id!);
        if (ctx.json) ctx.printJson(schedule);
        else details(schedule).forEach((line) => ctx.out(line));
        return 0;
      }
      case 'delete': {
        const answer = await ctx.client.deleteSchedule(id!);
        if (ctx.json) ctx.printJson(answer);
        else ctx.out(`deleted schedule ${answer.id}`);
        return 0;
      }
    }
  },
});
