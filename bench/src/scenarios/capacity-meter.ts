// CPU use of a capacity run's process groups while a figure is taken: Redis from INFO cpu (its main
// thread, which runs every command), the API and worker processes and this one (the load generator)
// from /proc, and the whole machine from /proc/stat (other work on it included).
import { cpuMs, machineBusyTicks, redisCpuMs } from '../env.js';
import { performance } from '../load.js';
import type { Context } from './common.js';

export const GROUPS = ['redis', 'apis', 'workers', 'bench', 'machine'] as const;
export type Group = (typeof GROUPS)[number];
export type ByGroup = Record<Group, number | null>;

export interface Sample {
  perSecond: number;
  /** CPU used during the measurement, % of one core. */
  percent: ByGroup;
  /** CPU microseconds per task. */
  usPerTask: ByGroup;
}

/** Starts reading CPU use; stop(tasks) gives each group's share of a core and its microseconds per task. */
export async function startMeter(ctx: Context, pids: { apis: Array<number | undefined>; workers: Array<number | undefined> }) {
  const sum = (list: Array<number | undefined>): number | null => {
    if (list.length === 0) return null;
    let total = 0;
    for (const pid of list) {
      const ms = cpuMs(pid);
      if (ms === null) return null;
      total += ms;
    }
    return total;
  };
  const read = async (): Promise<ByGroup & { at: number }> => {
    const self = process.cpuUsage();
    const ticks = machineBusyTicks();
    return {
      redis: await redisCpuMs(ctx.redis),
      apis: sum(pids.apis),
      workers: sum(pids.workers),
      bench: (self.user + self.system) / 1000,
      machine: ticks === null ? null : ticks * 10,
      at: performance.now(),
    };
  };
  const before = await read();
  return {
    async stop(tasks: number): Promise<{ percent: ByGroup; usPerTask: ByGroup }> {
      const after = await read();
      const seconds = (after.at - before.at) / 1000;
      const percent = {} as ByGroup;
      const usPerTask = {} as ByGroup;
      for (const group of GROUPS) {
        const [a, b] = [before[group], after[group]];
        const ms = a === null || b === null ? null : b - a;
        percent[group] = ms === null ? null : Math.round(ms / seconds / 10);
        usPerTask[group] = ms === null || tasks === 0 ? null : Math.round((ms * 1000) / tasks);
      }
      return { percent, usPerTask };
    },
  };
}

