// Loads the `custom` handlers that config.yaml names (`executors.custom.handlers: {name: module path}`).
// Workers load them at start, so a module that is missing, throws while loading, or exports no function
// stops the worker with a message naming the handler and the module, instead of failing tasks later.
import { pathToFileURL } from 'node:url';
import type { CustomHandler } from './builtin-handlers.js';

export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';
}

/** The handler a module exports: its default export, or a named export `handler`. */
function handlerExport(module: Record<string, unknown>): CustomHandler | undefined {
  for (const candidate of [module.default, module.handler]) {
    if (typeof candidate === 'function') return candidate as CustomHandler;
  }
  return undefined;
}

export async function loadPluginHandlers(modules: Record<string, string>): Promise<Record<string, CustomHandler>> {
  const entries = await Promise.all(
    Object.entries(modules).map(async ([name, path]): Promise<[string, CustomHandler]> => {
      let module: Record<string, unknown>;
      try {
        module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
      } catch (err) {
        throw new PluginLoadError(`custom handler "${name}": module ${path} could not be loaded: ${(err as Error).message}`);
      }
      const handler = handlerExport(module);
      if (!handler) {
        throw new PluginLoadError(`custom handler "${name}": module ${path} exports no function (export default or export "handler")`);
      }
      return [name, handler];
    }),
  );
  return Object.fromEntries(entries);
}
