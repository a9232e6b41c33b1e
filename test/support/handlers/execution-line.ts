// One line of the execution log the test handlers write: `<event> <task id> <pid> <epoch ms>`.
// appendFileSync opens with O_APPEND and writes the line in one write(2), so lines from several worker
// processes never interleave, and the line is on disk before the handler goes on (a SIGKILL right
// after cannot lose it).
import { appendFileSync } from 'node:fs';

export type ExecutionEvent = 'start' | 'done';

export function appendExecution(logPath: string, event: ExecutionEvent, taskId: string): void {
  appendFileSync(logPath, `${event} ${taskId} ${process.pid} ${Date.now()}\n`);
}
