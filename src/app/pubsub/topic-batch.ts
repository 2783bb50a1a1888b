/**
 * One topic's publications of an event-loop turn, written to its subscribers
 * together: the turn's first publication on a topic is written to every
 * subscriber at once (deliver-publication.ts), and the next ones on the same
 * topic only join this thread's open batch (their frames, O(1) each); when
 * the batch closes, its frames are joined into one buffer and written to
 * every subscriber once (one `sendFrame` per subscriber per batch instead of
 * one per subscriber per publication).
 *
 * The batch closes at the end of the turn (SocketBinding's turn end, or the
 * PubSub's scheduled flush without sockets) and before anything that could
 * be ordered against it, so that every connection receives what it
 * receives in the order it was sent:
 * - a publication to another topic, or one that is not batched (below);
 * - any subscribe or unsubscribe (so a connection that subscribes after a
 *   publication does not get it, one that unsubscribes after it does);
 * - any other write to a connection the batch wrote to (a reply, a direct
 *   send, an event, a ping, a close frame), and such a connection closing:
 *   the connections written to by the batch's first publication carry the
 *   batch's number (`fanOut`, read by socket-binding.ts), which is how
 *   the socket side knows.
 * While a batch is open, its topic's set of open subscribers cannot change
 * without closing it (each change is one of the above), so a batched
 * publication is written to exactly the subscribers the first one was
 * written to, and `publish()` returns that count.
 *
 * Closing a batch walks the subscribers again only for topics with a
 * subscriber whose handle cannot keep the batch's rest itself (`eager`,
 * local-subscriptions.ts: test fakes, other transports). Otherwise (every
 * SocketBinding-backed subscriber) the close only records the batch's rest
 * (its publications after the first, joined) in `batchRests`, and each
 * connection that kept the batch's number writes it itself
 * (socket-binding.ts): before anything else is written to it, or at the
 * turn's end, all of them before any leaves (`writeBatchRests`, a walk: a
 * publication made meanwhile waits for it, as below). One walk per
 * subscriber per turn instead of two (the first publication's, the
 * batch's).
 *
 * Only topics whose subscribers all use one format are batched, and only
 * publications up to BATCH_MAX_BYTES together (a joined batch is still one
 * small frame for the socket's turn-end coalescing, COALESCE_MAX_BYTES in
 * transport/write-slab.ts); anything else is written at once, as before.
 *
 * One walk over a topic's subscribers at a time (a publication written at
 * once, or a batch written when it closes): a write may close a subscriber
 * (the slow-consumer policy, transport/socket-binding.ts), whose session's
 * onClose runs at once, inside the walk, and may publish. Such a
 * publication (any delivery asked for during a walk) waits until the walk
 * has reached every subscriber, then is written at once (never batched), in
 * the order asked; each may close another subscriber and add more. So every
 * other subscriber gets publications in the order they were made: a
 * publication whose `publish()` started before (even if its own walk had
 * not started yet, because closing the open batch came first) ahead of one
 * made during a walk. The waiting one's `publish()` returns the topic's local
 * subscriber count at that moment: nothing has been written yet.
 */
import { Buffer } from 'node:buffer';
import type { TopicSubscribers } from './local-subscriptions.ts';
import { deliverPublication, singleFormatFrame, writeToAll, type PublicationFrames } from './deliver-publication.ts';

/** The most bytes of batched publications (after the first): the socket layer's coalescing limit. */
const BATCH_MAX_BYTES = 4096;

/**
 * `epoch` numbers the batches of this thread; `stamp` is the number a connection written to keeps (the batch's during
 * its first publication's walk, 0 otherwise); `open` is the open batch's number, -1 while none is open: a
 * connection that kept it must `closeTopicBatch()` before anything else is written to it. Fields of one object, read
 * per delivery on the socket's write path.
 */
export const fanOut = { epoch: 0, stamp: 0, open: -1 };

/** `first` while no batch's rest is recorded: above every batch number. */
const NO_RESTS = Number.MAX_SAFE_INTEGER;

/**
 * The rests of the batches closed since the last `writeBatchRests` (the turn's end), for the connections that kept
 * their numbers to write: batch `first + i` has `frames[i]` (its publications after the first, joined; null: none)
 * holding `messages[i]` publications. `first` is NO_RESTS while none is recorded, so a connection's check is one
 * comparison.
 */
export const batchRests = { first: NO_RESTS, frames: [] as (Uint8Array | null)[], messages: [] as number[] };

/** The open batch (one per thread at most: a publication to another topic closes it); null during every walk. */
let openEntry: TopicSubscribers | null = null;
/** Its frames after the first publication's (null: none yet). */
let openFrames: Uint8Array[] | null = null;
let openBytes = 0;
/** Subscribers the first publication was written to (what a batched publication is written to). */
let openWritten = 0;
/** The open batch's number (`fanOut.open` is cleared before the batch is written). */
let openEpoch = 0;

/** Told how many subscribers a delivery was written to (for one that waited, once it is written). */
export type DeliveryCount = (written: number) => void;

/** A delivery asked for during a walk, waiting for it to end. */
interface WaitingDelivery {
  readonly entry: TopicSubscribers;
  readonly frames: PublicationFrames;
  readonly counted: DeliveryCount;
}

/**
 * The scheduler whose close of the open batch is still to run: one scheduled close serves every batch opened before
 * it runs (topics that alternate in a turn open a batch per publication), and it is the PubSub's (one per worker;
 * tests make several, each with its own turns).
 */
let closePendingWith: ((close: () => void) => void) | null = null;

function scheduledClose(): void {
  closePendingWith = null;
  closeTopicBatch();
}

/** True during a walk over a topic's subscribers (see the top of this file). */
let walking = false;
/** Deliveries asked for during the walk, in order. */
let waiting: WaitingDelivery[] = [];

/**
 * Writes a publication's frames to the topic's local subscribers now or, when
 * it continues the open batch, with that batch; during a walk, after it.
 * `counted` is told the number of subscribers written to (once written, for
 * one that waits), and that number is returned (the topic's subscriber count
 * for one that waits). `scheduleClose` runs a function once the turn's work is
 * done (the batch closes then at the latest).
 */
export function deliverInTurn(entry: TopicSubscribers, frames: PublicationFrames, counted: DeliveryCount, scheduleClose: (close: () => void) => void): number {
  if (walking) {
    waiting.push({ entry, frames, counted });
    return entry.subscribers.size;
  }
  const frame = singleFormatFrame(entry, frames);
  if (entry === openEntry && frame !== null && openBytes + frame.length <= BATCH_MAX_BYTES) {
    if (openFrames === null) openFrames = [frame];
    else openFrames.push(frame);
    openBytes += frame.length;
    counted(openWritten);
    return openWritten;
  }
  // The open batch, this publication and what either's walk made wait: one guarded stretch.
  walking = true;
  try {
    writeOpenBatch();
    // Several formats, or no frame for this one: written at once, not batched.
    if (frame === null) {
      const written = deliverPublication(entry, frames);
      counted(written);
      if (waiting.length !== 0) writeWaiting();
      return written;
    }
    const current = ++fanOut.epoch;
    fanOut.open = current;
    fanOut.stamp = current;
    const written = writeToAll(entry, frame);
    fanOut.stamp = 0;
    counted(written);
    // Closed meanwhile (a subscriber failed as a slow consumer), something waiting, nobody written to, or too large: no batch.
    if (fanOut.open !== current || waiting.length !== 0 || written === 0 || frame.length > BATCH_MAX_BYTES) {
      if (fanOut.open === current) fanOut.open = -1;
      if (waiting.length !== 0) writeWaiting();
      return written;
    }
    openEntry = entry;
    openWritten = written;
    openEpoch = current;
  } finally {
    walking = false;
    if (waiting.length !== 0) waiting = [];
  }
  if (closePendingWith !== scheduleClose) {
    closePendingWith = scheduleClose;
    scheduleClose(scheduledClose);
  }
  return openWritten;
}

/** Closes the open batch, if any: its publications after the first, joined, are written to the topic's subscribers. */
export function closeTopicBatch(): void {
  fanOut.open = -1;
  // During a walk there is no open batch (the walk's close only keeps a batch from opening).
  if (openEntry === null) return;
  walking = true;
  try {
    writeOpenBatch();
    if (waiting.length !== 0) writeWaiting();
  } finally {
    walking = false;
    if (waiting.length !== 0) waiting = [];
  }
}

/**
 * Writes the open batch's publications after the first (if any), or records them for the connections written to
 * (`batchRests`), and forgets the batch. Only under `walking`.
 */
function writeOpenBatch(): void {
  fanOut.open = -1;
  const entry = openEntry;
  if (entry === null) return;
  const frames = openFrames;
  openEntry = null;
  openFrames = null;
  const bytes = openBytes;
  openBytes = 0;
  if (frames === null) return;
  const joined = frames.length === 1 ? (frames[0] as Uint8Array) : Buffer.concat(frames, bytes);
  if (entry.eager === 0) recordRest(openEpoch, joined, frames.length);
  else for (const subscriber of entry.subscribers) subscriber.handle.sendFrames(joined, frames.length);
}

/** Records batch `epoch`'s rest (`messages` publications joined in `frames`) in `batchRests`. */
function recordRest(epoch: number, frames: Uint8Array, messages: number): void {
  const rests = batchRests;
  if (rests.first === NO_RESTS) rests.first = epoch;
  // Batches closed without a rest (one publication in the turn) in between: none to write.
  while (rests.first + rests.frames.length < epoch) {
    rests.frames.push(null);
    rests.messages.push(0);
  }
  rests.frames.push(frames);
  rests.messages.push(messages);
}

/**
 * The turn's end (socket-binding.ts): `pass` has every connection of the turn that kept a recorded batch's number
 * write that batch's rest, as one walk (a publication asked for meanwhile, by a close handler run by a slow-consumer
 * close, waits for it and is written at once after it); then the rests are forgotten. Every connection that keeps a
 * batch's number is queued for the turn's end when it gets the batch's first publication, and no batch can open
 * during the walk, so none is left to write its rest later.
 */
export function writeBatchRests(pass: () => void): void {
  walking = true;
  try {
    pass();
    if (waiting.length !== 0) writeWaiting();
  } finally {
    walking = false;
    if (waiting.length !== 0) waiting = [];
    batchRests.first = NO_RESTS;
    batchRests.frames.length = 0;
    batchRests.messages.length = 0;
  }
}

/** Writes the deliveries that waited for a walk, in order, at once; the length is read at each step (one may add another). */
function writeWaiting(): void {
  for (let i = 0; i < waiting.length; i++) {
    const delivery = waiting[i] as WaitingDelivery;
    delivery.counted(deliverPublication(delivery.entry, delivery.frames));
  }
}
