// Where a GET /events stream stands in each watched type's event stream, sent as every event's `id`
// (`custom=1795810986612-0;data_processing=1795810986000-3`), so a client that reconnects (a browser's
// EventSource sends it back as Last-Event-ID) gets the events it missed instead of a gap. Every event's
// id carries every type: a type whose last event the client saw long ago resumes from there too.
import { compareStreamIds, TaskType, validationError, type TaskEvent } from '@taskengine/core';

const STREAM_ID = /^\d{1,16}-\d{1,16}$/;

export class EventsCursor {
  private readonly positions: Map<TaskType, string>;

  constructor(positions: ReadonlyMap<TaskType, string>) {
    this.positions = new Map(positions);
  }

  /**
   * The positions a Last-Event-ID names, for the watched types; null without the header. A header that
   * is not one of ours is a 400 naming it (a type it names that is not watched is ignored).
   */
  static parse(header: string | undefined, watched: readonly TaskType[]): Map<TaskType, string> | null {
    if (header === undefined || header.trim() === '') return null;
    const positions = new Map<TaskType, string>();
    for (const part of header.split(';')) {
      const [name, id, ...rest] = part.trim().split('=');
      const type = TaskType.safeParse(name);
      if (!type.success || id === undefined || !STREAM_ID.test(id) || rest.length > 0) {
        throw validationError(
          [{ path: 'Last-Event-ID', message: `expected "<type>=<stream id>" pairs joined by ";", as this API sends; got ${JSON.stringify(part.slice(0, 80))}` }],
          'Last-Event-ID is not an id this API sent',
        );
      }
      if (watched.includes(type.data)) positions.set(type.data, id);
    }
    return positions;
  }

  /** Moves past `event`; false when the stream is past it already (a repeat, or replayed). */
  advance(event: TaskEvent): boolean {
    const position = this.positions.get(event.data.type);
    if (position !== undefined && compareStreamIds(event.id, position) <= 0) return false;
    this.positions.set(event.data.type, event.id);
    return true;
  }

  toString(): string {
    return [...this.positions].map(([type, id]) => `${type}=${id}`).join(';');
  }
}
