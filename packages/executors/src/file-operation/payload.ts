// The file_operation payload (CONTRACT section 4): one strict shape per operation, so a field that makes
// no sense for it (content on a read, no destination on a copy) is a 400 at creation, and so is every
// path that lexically leaves the root, and delete or move of the root itself.
import { z } from 'zod';
import { JailedPath, namesRoot } from '../guards/path-jail.js';

export const Encoding = z.enum(['utf8', 'base64']);
export type Encoding = z.infer<typeof Encoding>;

/** Strict standard base64 (padding included), so a typo is a 400 rather than silently dropped bytes. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const NotRoot = JailedPath.refine((path) => !namesRoot(path), 'path_outside_root: the root folder itself cannot be the target');

const contentShape = {
  path: JailedPath,
  content: z.string(),
  encoding: Encoding.default('utf8'),
};
const checkBase64 = (payload: { content: string; encoding: Encoding }, ctx: z.RefinementCtx): void => {
  if (payload.encoding === 'base64' && !BASE64.test(payload.content)) {
    ctx.addIssue({ code: 'custom', path: ['content'], message: 'is not valid base64' });
  }
};

export const ReadPayload = z.strictObject({ operation: z.literal('read'), path: JailedPath, encoding: Encoding.default('utf8') });
export const WritePayload = z.strictObject({ operation: z.literal('write'), ...contentShape }).superRefine(checkBase64);
export const AppendPayload = z.strictObject({ operation: z.literal('append'), ...contentShape }).superRefine(checkBase64);
export const DeletePayload = z.strictObject({ operation: z.literal('delete'), path: NotRoot, recursive: z.boolean().default(false) });
export const CopyPayload = z.strictObject({
  operation: z.literal('copy'),
  path: JailedPath,
  destination: NotRoot,
  recursive: z.boolean().default(false),
  overwrite: z.boolean().default(false),
});
export const MovePayload = z.strictObject({
  operation: z.literal('move'),
  path: NotRoot,
  destination: NotRoot,
  overwrite: z.boolean().default(false),
});
export const ListPayload = z.strictObject({ operation: z.literal('list'), path: JailedPath, recursive: z.boolean().default(false) });
export const StatPayload = z.strictObject({ operation: z.literal('stat'), path: JailedPath });
export const MkdirPayload = z.strictObject({ operation: z.literal('mkdir'), path: JailedPath, recursive: z.boolean().default(false) });
export const ExistsPayload = z.strictObject({ operation: z.literal('exists'), path: JailedPath });

export const FileOperationPayload = z.discriminatedUnion('operation', [
  ReadPayload,
  WritePayload,
  AppendPayload,
  DeletePayload,
  CopyPayload,
  MovePayload,
  ListPayload,
  StatPayload,
  MkdirPayload,
  ExistsPayload,
]);
export type FileOperationPayload = z.infer<typeof FileOperationPayload>;
export type OperationName = FileOperationPayload['operation'];
export type PayloadOf<Op extends OperationName> = Extract<FileOperationPayload, { operation: Op }>;
