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
 * `epoch` numbers the batches of this thread (a connection written to by a batch's first publication keeps it);
 * `open` is the open batch's number, -1 while none is open: a connection that kept it must `closeTopicBatch()`
 * before anything else is written to it. Fields of one object, read per delivery on the socket's write path.
 */
export const fanOut = { epoch: 0, open: -1 };

/** The open batch (one per thread at most: a publication to another topic closes it); null during every walk. */
let openEntry: TopicSubscribers | null = null;
/** Its frames after the first publication's (null: none yet). */
let openFrames: Uint8Array[] | null = null;
let openBytes = 0;
/** Subscribers the first publication was written to (what a batched publication is written to). */
let openWritten = 0;

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
    const written = writeToAll(entry, frame);
    counted(written);
    // Closed meanwhile (a subscriber failed as a slow consumer), something waiting, nobody written to, or too large: no batch.
    if (fanOut.open !== current || waiting.length !== 0 || written === 0 || frame.length > BATCH_MAX_BYTES) {
      if (fanOut.open === current) fanOut.open = -1;
      if (waiting.length !== 0) writeWaiting();
      return written;
    }
    openEntry = entry;
    openWritten = written;
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

/** Writes the open batch's publications after the first (if any), and forgets it. Only under `walking`. */
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
  const joined = frames.length === 1 ? frames[0] : Buffer.concat(frames, bytes);
  for (const subscriber of entry.subscribers) subscriber.writer.sendFrames(joined, frames.length);
}

/** Writes the deliveries that waited for a walk, in order, at once; the length is read at each step (one may add another). */
function writeWaiting(): void {
  for (let i = 0; i < waiting.length; i++) {
    const delivery = waiting[i] as WaitingDelivery;
    delivery.counted(deliverPublication(delivery.entry, delivery.frames));
  }
}
