/**
 * A chat server on the Shoal subprotocols: rooms are topics, each connection
 * has a nickname, and every room keeps its last 50 messages, shared by all
 * workers (history.ts).
 *
 *   npx shoal serve --app examples/chat/app.ts --port 9001 --workers 2
 *
 * then open http://127.0.0.1:9001/: the app's `http` handler serves the page
 * (page-server.ts) on the same port as the WebSocket (README.md).
 */
import type { BroadcastChannel } from 'node:worker_threads';
import { AppError, defineApp, serverChannel } from '@shoal-ws/shoal';
import { RoomHistory } from './history.ts';
import { createPageHandler } from './page-server.ts';
import { ROOM_NAME, type ChatMessage, type ChatSchema } from './schema.ts';

const HISTORY_LIMIT = 50;
const MAX_ROOMS = 1000;
const MAX_TEXT = 2000;
const MAX_NICK = 32;
/** How long a worker's first join waits for the other workers' history. */
const SYNC_WAIT_MS = 200;

type Replication = { t: 'message'; message: ChatMessage } | { t: 'sync-request' } | { t: 'sync'; messages: ChatMessage[] };

const history = new RoomHistory(HISTORY_LIMIT, MAX_ROOMS);
let channel: BroadcastChannel | null = null;
let synced: Promise<void> | null = null;

/** Join the workers' history channel (once per worker, on its first join) and fetch what the others know. */
function syncHistory(): Promise<void> {
  if (synced !== null) return synced;
  const { promise, resolve } = Promise.withResolvers<void>();
  const shared = serverChannel('chat-history');
  shared.onmessage = (event: unknown) => {
    const message = (event as { data: Replication }).data;
    if (message.t === 'message') history.add(message.message);
    else if (message.t === 'sync-request') shared.postMessage({ t: 'sync', messages: history.all() } satisfies Replication);
    else {
      for (const stored of message.messages) history.add(stored);
      resolve();
    }
  };
  shared.postMessage({ t: 'sync-request' } satisfies Replication);
  // Alone, or the others are slow: go on with what this worker has.
  setTimeout(resolve, SYNC_WAIT_MS).unref();
  channel = shared;
  synced = promise;
  return promise;
}

function checkRoom(room: unknown): string {
  if (typeof room !== 'string' || !ROOM_NAME.test(room)) throw new AppError('BAD_ROOM', 'room names have 1..32 letters, digits, - or _');
  return room;
}

function checkJoined(rooms: string[], room: string): void {
  if (!rooms.includes(room)) throw new AppError('NOT_JOINED', `join ${room} first`);
}

export default defineApp<ChatSchema>({
  // The page, its script and the client modules, on the WebSocket's port.
  http: createPageHandler(),
  onOpen(ctx) {
    ctx.state.nick = '';
    ctx.state.rooms = [];
    ctx.state.sent = 0;
  },
  // Only room topics with valid names; subscribing needs no join (a reader may lurk).
  authorizeSubscribe: (_ctx, topic) => topic.startsWith('room:') && ROOM_NAME.test(topic.slice(5)),
  methods: {
    async join(ctx, data) {
      const room = checkRoom(data?.room);
      const nick = typeof data?.nick === 'string' ? data.nick.trim() : '';
      if (nick.length === 0 || nick.length > MAX_NICK) throw new AppError('BAD_NICK', `nicknames have 1..${MAX_NICK} characters`);
      await syncHistory();
      ctx.state.nick = nick;
      if (!ctx.state.rooms.includes(room)) {
        if (ctx.state.rooms.length >= 16) throw new AppError('TOO_MANY_ROOMS', 'at most 16 rooms per connection');
        ctx.state.rooms.push(room);
        ctx.publish(`room:${room}`, { type: 'join', nick, ts: Date.now() });
      }
      return { history: history.get(room), address: ctx.address };
    },
    say(ctx, data) {
      const room = checkRoom(data?.room);
      checkJoined(ctx.state.rooms, room);
      const text = typeof data?.text === 'string' ? data.text.trim() : '';
      if (text.length === 0 || text.length > MAX_TEXT) throw new AppError('BAD_TEXT', `messages have 1..${MAX_TEXT} characters`);
      const message: ChatMessage = { id: `${ctx.address}:${++ctx.state.sent}`, room, nick: ctx.state.nick, text, ts: Date.now() };
      history.add(message);
      channel?.postMessage({ t: 'message', message } satisfies Replication);
      ctx.publish(`room:${room}`, { type: 'message', message });
      return message;
    },
    leave(ctx, data) {
      const room = checkRoom(data?.room);
      checkJoined(ctx.state.rooms, room);
      ctx.state.rooms = ctx.state.rooms.filter((joined) => joined !== room);
      ctx.publish(`room:${room}`, { type: 'leave', nick: ctx.state.nick, ts: Date.now() });
      return null;
    },
  },
  onClose(ctx) {
    for (const room of ctx.state.rooms) ctx.publish(`room:${room}`, { type: 'leave', nick: ctx.state.nick, ts: Date.now() });
  },
});
