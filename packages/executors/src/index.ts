// The task types this build can run, keyed by type. The API takes their payload schemas, the worker
// their executors; adding a type here is all it takes for both to know it.
import type { Config, ExecutorRegistry } from '@taskengine/core';
import { customTaskType } from './custom/index.js';
import { dataProcessingTaskType } from './data-processing/index.js';
import { fileOperationTaskType } from './file-operation/index.js';

export function createExecutorRegistry(config: Config): ExecutorRegistry {
  return {
    custom: customTaskType(),
    data_processing: dataProcessingTaskType(config),
    file_operation: fileOperationTaskType(config),
  };
}

export { BUILTIN_HANDLERS } from './custom/builtin-handlers.js';
