/**
 * SlotList: an unordered list of objects that each remember their index in
 * it, for the worker's per-connection bookkeeping (the connection host's live
 * bindings, the read buffer's readers): add and delete in O(1) (a delete
 * moves the last item into the hole), no hash table.
 *
 * Why not a Set: a Set with one add and one delete per connection rebuilds
 * its table every few hundred connections, and V8 leaves the old table with
 * its entries in place (for iterators still walking it). Once a Set's table
 * is in the old generation, each table it leaves behind keeps the
 * connections it held alive through every scavenge until the next
 * mark-compact, so they are promoted too (our reading of the measurements: in
 * a connection storm, one worker, bench/handshake-cost.ts, almost every
 * connection's objects were promoted, about 700 KB per scavenge with
 * --trace-gc-nvp, the old generation growing by ~2.6 KB per handshake; with
 * these lists, the registry's indexes and the WeakMap entry deleted at close,
 * 18-32 KB per scavenge). An array slot is overwritten or emptied when its
 * item leaves.
 */

/** How a list reads and writes an item's index (-1: in no list); one field of the item per list it can be in. */
export interface SlotAccess<T> {
  get(item: T): number;
  set(item: T, slot: number): void;
}

export class SlotList<T> {
  readonly #items: T[];
  readonly #slot: SlotAccess<T>;

  constructor(slot: SlotAccess<T>) {
    this.#items = [];
    this.#slot = slot;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Adds an item that is in no list of this kind (its slot -1). */
  add(item: T): void {
    this.#slot.set(item, this.#items.length);
    this.#items.push(item);
  }

  /** Removes `item`; false when it is not in this list. */
  delete(item: T): boolean {
    const items = this.#items;
    const slot = this.#slot.get(item);
    if (slot < 0 || items[slot] !== item) return false;
    const last = items.pop() as T;
    if (last !== item) {
      items[slot] = last;
      this.#slot.set(last, slot);
    }
    this.#slot.set(item, -1);
    return true;
  }

  /**
   * Calls `visit` for each item, from the last added to the first. `visit`
   * may delete the item it is given (or add items, which are not visited);
   * deleting another item not visited yet may visit one item twice, never
   * skip one.
   */
  forEach(visit: (item: T) => void): void {
    const items = this.#items;
    for (let i = items.length - 1; i >= 0; i--) {
      if (i < items.length) visit(items[i] as T);
    }
  }
}
