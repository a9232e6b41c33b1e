// The built-in `custom` handlers (CONTRACT section 4): echo, sleep, fail. The tests use them to drive
// the engine, so each honours its AbortSignal the way every executor must.
import { TaskError, type ExecutionContext } from '@taskengine/core';

export type CustomHandler = (payload: Record<string, unknown>, ctx: ExecutionContext) => Promise<unknown>;

export const echo: CustomHandler = async (payload) => ({ custom_result: 'success', payload_received: payload });

/** Waits `duration_ms`, reporting progress about ten times; stops at once when aborted. */
export const sleep: CustomHandler = async (payload, ctx) => {
  const duration = Number(payload.duration_ms ?? 0);
  const started = Date.now();
  const step = Math.max(10, Math.min(1000, duration / 10));
  while (Date.now() - started < duration) {
    ctx.signal.throwIfAborted();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(step, duration - (Date.now() - started)));
      function done(): void {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', done);
        resolve();
      }
      ctx.signal.addEventListener('abort', done, { once: true });
    });
    ctx.progress(Math.min(100, Math.floor(((Date.now() - started) / duration) * 100)));
  }
  ctx.signal.throwIfAborted();
  return { slept_ms: Date.now() - started };
};

export const fail: CustomHandler = async (payload) => {
  throw new TaskError('handler_error', String(payload.message ?? 'failed on purpose'), {
    retryable: payload.retryable !== false,
  });
};

export const BUILTIN_HANDLERS: Record<string, CustomHandler> = { echo, sleep, fail };
