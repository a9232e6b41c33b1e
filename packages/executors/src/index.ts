// The task types this build can run, keyed by type. The API takes their payload schemas, the worker
// their executors; adding a type here is all it takes for both to know it.
import type { Config, ExecutorRegistry } from '@taskengine/core';
import { aiInferenceTaskType } from './ai-inference/index.js';
import { customTaskType } from './custom/index.js';
import { dataProcessingTaskType } from './data-processing/index.js';
import { fileOperationTaskType } from './file-operation/index.js';
import { networkRequestTaskType, type NetworkRequestOptions } from './network-request/index.js';
import { systemCommandTaskType } from './system-command/index.js';

export type ExecutorOptions = NetworkRequestOptions;

export function createExecutorRegistry(config: Config, options: ExecutorOptions = {}): ExecutorRegistry {
  return {
    ai_inference: aiInferenceTaskType(config.dependencies.oneapi),
    data_processing: dataProcessingTaskType(config),
    file_operation: fileOperationTaskType(config),
    network_request: networkRequestTaskType(config.executors.network_request, options),
    system_command: systemCommandTaskType(config),
    custom: customTaskType(config),
  };
}

export { BUILTIN_HANDLERS } from './custom/builtin-handlers.js';
export { blockedRange, filteringLookup, guardedAgents, BlockedAddressError, type DialPolicy } from './guards/address-filter.js';
export { hostAllowlist, parseAllowedHost, canonicalHost, type HostAllowlist } from './guards/host-allowlist.js';
export { parseRetryAfter } from './http/retry-after.js';
export { networkRequestTaskType } from './network-request/index.js';
export { aiInferenceTaskType } from './ai-inference/index.js';
