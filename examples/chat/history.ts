/**
 * The recent messages of every room, kept by each worker and replicated
 * between the workers of one server, so a client sees the same history
 * whichever worker it lands on.
 *
 * Replication: a worker that stores a message posts it on a channel shared
 * by the server's workers, and every worker inserts it by (ts, id), so all
 * copies converge on the same order. A worker that starts late (or replaces
 * a crashed one) asks the others for their rooms and merges the answers.
 * Memory is bounded: `limit` messages per room, `maxRooms` rooms (the room
 * idle the longest is dropped first).
 */
import type { ChatMessage } from './schema.ts';

/** The recent messages of each room, newest last. */
export class RoomHistory {
  readonly limit: number;
  readonly maxRooms: number;
  /** Map order is recency of use: the first room is the one idle the longest. */
  #rooms: Map<string, ChatMessage[]>;

  constructor(limit: number, maxRooms: number) {
    this.limit = limit;
    this.maxRooms = maxRooms;
    this.#rooms = new Map();
  }

  /** Insert a message in (ts, id) order; a message already present (same id) is ignored. */
  add(message: ChatMessage): void {
    let list = this.#rooms.get(message.room);
    if (list === undefined) {
      if (this.#rooms.size >= this.maxRooms) this.#rooms.delete(this.#rooms.keys().next().value as string);
      list = [];
    } else {
      this.#rooms.delete(message.room);
    }
    this.#rooms.set(message.room, list);
    let at = list.length;
    while (at > 0 && compare(list[at - 1], message) > 0) at--;
    if (list.some((existing) => existing.id === message.id)) return;
    list.splice(at, 0, message);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
  }

  /** The room's messages, oldest first (a copy). */
  get(room: string): ChatMessage[] {
    return [...(this.#rooms.get(room) ?? [])];
  }

  /** Every stored message, for a late worker. */
  all(): ChatMessage[] {
    return [...this.#rooms.values()].flat();
  }
}

function compare(a: ChatMessage, b: ChatMessage): number {
  return a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
