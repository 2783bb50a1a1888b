/**
 * A connection's inbound message queue: a ring of (data, isBinary) pairs with
 * message and byte thresholds. It never drops a message; `isFull` tells the
 * owner to stop reading the socket, `isBelowHalf` to start again.
 */

/** The smallest ring allocated on first use; an idle connection allocates none. */
const INITIAL_CAPACITY = 8;

/** FIFO of inbound messages; stores nothing until the first push. */
export class Mailbox {
  /** Pause threshold in messages. */
  readonly maxMessages: number;
  /** Pause threshold in payload bytes. */
  readonly maxBytes: number;
  /** Binary flag of the message returned by the last `shift()`. */
  shiftedIsBinary: boolean;
  #data: (Buffer | undefined)[];
  #binary: boolean[];
  #head: number;
  #length: number;
  #bytes: number;

  constructor(maxMessages: number, maxBytes: number) {
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.shiftedIsBinary = false;
    this.#data = [];
    this.#binary = [];
    this.#head = 0;
    this.#length = 0;
    this.#bytes = 0;
  }

  /** Messages waiting. */
  get length(): number {
    return this.#length;
  }

  /** Payload bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True at or past either threshold: the owner should stop reading. */
  get isFull(): boolean {
    return this.#length >= this.maxMessages || this.#bytes >= this.maxBytes;
  }

  /** True below half of both thresholds: the owner may read again. */
  get isBelowHalf(): boolean {
    return this.#length * 2 < this.maxMessages && this.#bytes * 2 < this.maxBytes;
  }

  /**
   * Appends a message. Always succeeds: the owner pauses reading when `isFull`,
   * so the overshoot is bounded by what one socket read can hold.
   */
  push(data: Buffer, isBinary: boolean): void {
    const capacity = this.#data.length;
    if (this.#length === capacity) this.#grow(capacity === 0 ? INITIAL_CAPACITY : capacity * 2);
    const index = (this.#head + this.#length) % this.#data.length;
    this.#data[index] = data;
    this.#binary[index] = isBinary;
    this.#length++;
    this.#bytes += data.length;
  }

  /** Removes and returns the oldest message (its flag lands in `shiftedIsBinary`), or undefined when empty. */
  shift(): Buffer | undefined {
    if (this.#length === 0) return undefined;
    const index = this.#head;
    const data = this.#data[index] as Buffer;
    this.#data[index] = undefined;
    this.shiftedIsBinary = this.#binary[index] as boolean;
    this.#head = (index + 1) % this.#data.length;
    this.#length--;
    this.#bytes -= data.length;
    return data;
  }

  /** Drops every waiting message and returns how many there were. */
  clear(): number {
    const dropped = this.#length;
    this.#data = [];
    this.#binary = [];
    this.#head = 0;
    this.#length = 0;
    this.#bytes = 0;
    return dropped;
  }

  #grow(capacity: number): void {
    const data = new Array<Buffer | undefined>(capacity);
    const binary = new Array<boolean>(capacity);
    const old = this.#data.length;
    for (let i = 0; i < this.#length; i++) {
      const from = (this.#head + i) % old;
      data[i] = this.#data[from];
      binary[i] = this.#binary[from] as boolean;
    }
    this.#data = data;
    this.#binary = binary;
    this.#head = 0;
  }
}
