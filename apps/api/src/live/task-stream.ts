// What one task's event stream sends (GET /tasks/{id}/events): its state as read first, then each
// change after that read, in order, until a final status. Events the subscription delivers that the
// read already holds (at or before the read's position in the event stream) are dropped, and so are
// repeats, so the client sees each change once; previous_status is always the status it saw last.
import {
  compareStreamIds,
  isFinal,
  type TaskEvent,
  type TaskEventListener,
  type TaskObject,
  type TaskStatusEvent,
} from '@taskengine/core';

/** The first event of a task's stream: the task as read. */
export function currentState(task: TaskObject): TaskStatusEvent {
  return {
    task_id: task.id,
    type: task.type,
    status: task.status,
    previous_status: null,
    progress: task.progress,
    error_code: task.error_code,
    retry_count: task.retry_count,
    at: new Date().toISOString(),
  };
}

export class TaskStream {
  private last: TaskStatusEvent;

  /**
   * @param first the state sent first
   * @param position the event stream's newest id when `first` was read
   */
  constructor(
    first: TaskStatusEvent,
    private readonly position: string,
  ) {
    this.last = first;
  }

  get ended(): boolean {
    return isFinal(this.last.status);
  }

  /** The event to send for `event`, or null when the client has it already. */
  next(event: TaskEvent): TaskEvent | null {
    if (this.ended || compareStreamIds(event.id, this.position) <= 0) return null;
    if (event.event === 'progress') {
      if (event.data.progress === this.last.progress) return null;
      this.last = { ...this.last, progress: event.data.progress };
      return event;
    }
    const { status, retry_count: retries, error_code: code } = event.data;
    if (status === this.last.status && retries === this.last.retry_count && code === this.last.error_code) return null;
    const data: TaskStatusEvent = { ...event.data, previous_status: this.last.status };
    this.last = data;
    return { ...event, data };
  }
}

/**
 * Holds the events a subscription delivers while the stream is being prepared (the task read, the
 * headers), then hands them on in order, and every later one as it comes.
 */
export class EventRelay {
  private held: TaskEvent[] = [];
  private target: TaskEventListener | undefined;

  readonly listener: TaskEventListener = (event) => {
    if (this.target) this.target(event);
    else this.held.push(event);
  };

  start(target: TaskEventListener): void {
    this.target = target;
    const held = this.held;
    this.held = [];
    for (const event of held) target(event);
  }
}
