// The ids of scheduler-made tasks. BullMQ names the job a scheduler makes for one tick
// `repeat:<scheduler id>:<tick ms>`: the id is derived from the tick, so a tick handled twice (a worker
// that crashed while making the next run) still makes one task. Client ids cannot contain `:`, so the two
// kinds of ids never meet.

/** `repeat:<scheduler id>:<tick ms>`: how BullMQ names the job a scheduler makes for one tick. */
const SCHEDULED_JOB_ID = /^repeat:(.+):(\d+)$/;

/** The tick (ms since epoch) a scheduler-made task was made for; null for any other task id. */
export function scheduledTick(taskId: string): number | null {
  const match = SCHEDULED_JOB_ID.exec(taskId);
  return match ? Number(match[2]) : null;
}
