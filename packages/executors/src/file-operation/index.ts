// The file_operation task type (CONTRACT section 4): ten operations on files under
// executors.file_operation.root, every path through the PathJail. Lexical refusals are 400s at
// creation (payload.ts); what depends on the disk (symlinks, sizes, existence) fails the task with a
// stable, non-retryable code.
import type { Config, TaskTypeDefinition } from '@taskengine/core';
import { PathJail } from '../guards/path-jail.js';
import { progressUntilAborted } from '../progress.js';
import { appendFile, readFile, writeFile } from './content.js';
import type { FileOpContext, FileOpResult } from './context.js';
import { listFolder, pathExists, statPath } from './inspect.js';
import { FileOperationPayload, type OperationName, type PayloadOf } from './payload.js';
import { copyPath, deletePath, makeDirectory, movePath } from './tree.js';

type Operations = { [Op in OperationName]: (payload: PayloadOf<Op>, ctx: FileOpContext) => Promise<FileOpResult> };

const OPERATIONS: Operations = {
  read: readFile,
  write: writeFile,
  append: appendFile,
  delete: deletePath,
  copy: copyPath,
  move: movePath,
  list: listFolder,
  stat: statPath,
  mkdir: makeDirectory,
  exists: pathExists,
};

export function fileOperationTaskType(config: Config): TaskTypeDefinition<FileOperationPayload> {
  const settings = config.executors.file_operation;
  const jail = new PathJail(settings.root);
  return {
    type: 'file_operation',
    payloadSchema: FileOperationPayload,
    async execute(payload, ctx) {
      const run = OPERATIONS[payload.operation] as (p: FileOperationPayload, c: FileOpContext) => Promise<FileOpResult>;
      const result = await run(payload, {
        jail,
        maxReadBytes: settings.max_read_bytes,
        maxListEntries: settings.max_list_entries,
        signal: ctx.signal,
        progress: progressUntilAborted(ctx),
      });
      return { operation: payload.operation, path: payload.path, success: true, ...result };
    },
  };
}

export { FileOperationPayload } from './payload.js';
