// The request and response shapes of the REST API (CONTRACT section 3), composed from the engine's own
// types in @taskengine/core so client and server cannot drift apart. Only the envelopes the server builds
// inline in its routes are spelled out here; every task, status, type and worker shape is imported.
import type {
  ErrorDetail,
  LifetimeCounters,
  PriorityName,
  QueueInfo,
  QueueList,
  QueuePauseState,
  RetryableStatus,
  RetrySkip,
  ScheduleCreate,
  ScheduleCreated,
  ScheduleDeleted,
  ScheduledTask,
  ScheduleList,
  ScheduleObject,
  TaskCreate,
  TaskLogLine,
  TaskLogs,
  TaskObject,
  TaskRetried,
  TasksRetried,
  TaskProgressEvent,
  TaskStatus,
  TaskStatusEvent,
  TaskType,
  WorkerRecord,
} from '@taskengine/core';

export type { ErrorDetail, PriorityName, ScheduleCreate, ScheduledTask, ScheduleObject, TaskCreate, TaskLogLine, TaskObject, TaskProgressEvent, TaskStatus, TaskStatusEvent, TaskType, WorkerRecord };

/** 200 from `POST /tasks/{id}/retry`. */
export type RetryTaskResponse = TaskRetried;
/** 200 from `POST /tasks/retry`. */
export type RetryTasksResponse = TasksRetried;
export type { QueueInfo, RetryableStatus, RetrySkip };
/** 200 from `GET /queues`. */
export type QueuesResponse = QueueList;
/** 200 from `POST /queues/{type}/pause` and `/resume`. */
export type QueuePauseResponse = QueuePauseState;

export interface RetryTasksQuery {
  /** One status or several (sent as a comma list); the server's default is `failed`. */
  status?: RetryableStatus | RetryableStatus[];
  /** One task type or several (sent as `task_type`); default every type the key may use. */
  type?: TaskType | TaskType[];
  /** Most tasks retried by the call, 1-1000 (server default 1000). */
  limit?: number;
}

/** 201 from `POST /schedules`. */
export type CreateScheduleResponse = ScheduleCreated;
/** 200 from `GET /schedules`. */
export type ScheduleListResponse = ScheduleList;
/** 200 from `DELETE /schedules/{id}`. */
export type DeleteScheduleResponse = ScheduleDeleted;

/** 201 (created) or 200 (an idempotent repeat of a client id) from `POST /tasks`. */
export interface CreateTaskResponse {
  success: true;
  task_id: string;
  status: TaskStatus;
  created_at: string;
  task: TaskObject;
}

/** 201 from `POST /tasks/batch`, in request order. */
export interface CreateBatchResponse {
  success: true;
  task_ids: string[];
  count: number;
  tasks: Array<{ task_id: string; status: TaskStatus }>;
}

export interface ListTasksQuery {
  /** One status or several (sent as a comma list). */
  status?: TaskStatus | TaskStatus[];
  /** One task type or several (sent as `task_type`, a comma list). */
  type?: TaskType | TaskType[];
  /** Page size, 1-1000 (server default 100). */
  limit?: number;
  /** The previous page's `next_cursor`. */
  cursor?: string;
}

/** 200 from `GET /tasks`: one page, newest first. */
export interface TaskListResponse {
  tasks: TaskObject[];
  /** Every task matching the filters, not just this page. */
  total: number;
  count: number;
  filters: { status: string | null; type: string | null };
  next_cursor: string | null;
}

/** 200 (cancelled now) or 202 (the running task's worker has not confirmed yet) from the cancel route. */
export type CancelTaskResponse =
  | { success: true; task_id: string; status: 'cancelled'; previous_status: TaskStatus }
  | { success: true; task_id: string; status: 'running'; cancel_requested: true };

export type StatusCounts = Record<TaskStatus, number>;

/** 200 from `GET /stats`. */
export type StatsResponse = StatusCounts & {
  total_tasks: number;
  by_type: Record<TaskType, StatusCounts>;
  by_priority: Record<PriorityName, { queued: number; running: number }>;
  avg_execution_time_ms: number | null;
  avg_wait_time_ms: number | null;
  success_rate: number | null;
  throughput: { completed_last_minute: number; failed_last_minute: number };
  lifetime: Pick<LifetimeCounters, 'created' | 'completed' | 'failed' | 'cancelled' | 'timeout' | 'retried'>;
  workers: { total: number; busy: number };
  timestamp: string;
};

/** 200 from `GET /workers`. */
export interface WorkersResponse {
  workers: WorkerRecord[];
  total: number;
  busy: number;
}

export type DependencyState = 'up' | 'down' | 'disabled';

/** `GET /health`: 200 when healthy or degraded, 503 (same shape) when unhealthy. */
export interface HealthResponse {
  status: 'healthy' | 'degraded' | 'unhealthy';
  node: string;
  name: string;
  version: string;
  redis: 'up' | 'down';
  workers: number;
  queue_size: number | null;
  dependencies: { state_machine: DependencyState; oneapi: DependencyState };
  uptime_seconds: number;
  timestamp: string;
}

/** The contract's error body, on every route. */
export interface ApiErrorBody {
  success: false;
  error: { code: string; message: string; details?: unknown };
}

/** One event of `GET /tasks/{id}/events` or `GET /events`; `id` is its Redis stream id (task streams only). */
export type TaskStreamEvent =
  | { event: 'status'; id: string | undefined; data: TaskStatusEvent }
  | { event: 'progress'; id: string | undefined; data: TaskProgressEvent };

/** `GET /events` resumed with Last-Event-ID: these types' missed events are gone (trimmed); read their tasks again. */
export interface EventsResyncEvent {
  event: 'resync';
  id: undefined;
  data: { reason: 'events_missed'; types: TaskType[] };
}

/** 200 from `GET /tasks/{id}/logs`: the executor's lines, oldest first. */
export type TaskLogsResponse = TaskLogs;
