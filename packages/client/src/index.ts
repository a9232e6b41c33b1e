// Public surface of @taskengine/client: the REST client, its errors and the API's shapes.
export * from './client.js';
export * from './errors.js';
export * from './types.js';
export { httpFetch, type FetchInit, type FetchLike, type FetchResponse } from './transport.js';
export { parseEventStream, type ServerSentEvent } from './sse.js';
export { eventStreamWatcher, pollingWatcher, type TaskWatcher, type WatchOptions } from './watch.js';
export { CLIENT_VERSION } from './version.js';
