// The task types this build can run, keyed by type. The API takes their payload schemas, the worker
// their executors; adding a type here is all it takes for both to know it.
import type { Config, ExecutorRegistry } from '@taskengine/core';
import { customTaskType } from './custom/index.js';
import { systemCommandTaskType } from './system-command/index.js';

export function createExecutorRegistry(config: Config): ExecutorRegistry {
  return {
    system_command: systemCommandTaskType(config),
    custom: customTaskType(config),
  };
}

export { BUILTIN_HANDLERS } from './custom/builtin-handlers.js';
