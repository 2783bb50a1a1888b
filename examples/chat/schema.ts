/**
 * The chat example's schema, shared by the server (app.ts) and the client
 * (the browser page, or any ShoalClient<ChatSchema>).
 *
 * Rooms are topics named `room:<name>`. A client subscribes to the room's
 * topic itself (so the client renews the subscription after a reconnect),
 * then calls `join` with its nickname to get the room's recent history.
 */
export interface ChatMessage {
  /** Unique on the server: "<connection address>:<sequence>". */
  id: string;
  room: string;
  nick: string;
  text: string;
  /** Server time, ms since the epoch. */
  ts: number;
}

/** What is published on `room:<name>`. */
export type RoomEvent =
  | { type: 'message'; message: ChatMessage }
  | { type: 'join'; nick: string; ts: number }
  | { type: 'leave'; nick: string; ts: number };

export interface ChatSchema {
  methods: {
    /** Set the nickname (1..32 characters) for this connection and announce it in the room; returns the room's recent history. */
    join: { data: { room: string; nick: string }; result: { history: ChatMessage[]; address: string } };
    /** Post to a joined room (1..2000 characters); returns the message as published. */
    say: { data: { room: string; text: string }; result: ChatMessage };
    /** Leave a room (announced to the others). */
    leave: { data: { room: string }; result: null };
  };
  topics: { [topic: `room:${string}`]: RoomEvent };
  state: { nick: string; rooms: string[]; sent: number };
}

/** Room names: 1..32 letters, digits, '-' or '_'. */
export const ROOM_NAME = /^[A-Za-z0-9_-]{1,32}$/;
