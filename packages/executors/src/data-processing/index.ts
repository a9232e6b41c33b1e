// The data_processing task type (CONTRACT section 4): a declarative pipeline over inline items or a
// file under executors.file_operation.root (the same jail as file_operation), streamed, with the
// output inline (capped) or written atomically to a file under the same root.
import type { Config, TaskTypeDefinition } from '@taskengine/core';
import { PathJail } from '../guards/path-jail.js';
import { progressUntilAborted } from '../progress.js';
import { DataProcessingPayload } from './payload.js';
import { runDataProcessing, type DataLimits } from './run.js';

export function dataProcessingTaskType(config: Config): TaskTypeDefinition<DataProcessingPayload> {
  const jail = new PathJail(config.executors.file_operation.root);
  const settings = config.executors.data_processing;
  const limits: DataLimits = {
    maxInlineOutputBytes: settings.max_inline_output_bytes,
    maxBufferedItems: settings.max_buffered_items,
    maxGroups: settings.max_groups,
    maxItemBytes: settings.max_item_bytes,
  };
  return {
    type: 'data_processing',
    payloadSchema: DataProcessingPayload,
    execute: (payload, ctx) => runDataProcessing(payload, { jail, limits, signal: ctx.signal, progress: progressUntilAborted(ctx) }),
  };
}

export { DataProcessingPayload } from './payload.js';
