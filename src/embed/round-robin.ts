/**
 * Items in one first-in-first-out line per key, served one key at a time in turn: `shift` takes
 * the head of the key whose turn it is and sends that key to the back. A key with many items gets
 * one turn per round like a key with one, so no key can starve another.
 */
export class RoundRobin<T> {
  /** Lines in turn order: the first key is next. */
  readonly #lines = new Map<string, T[]>();
  #size = 0;

  /** Items in all lines. */
  get size(): number {
    return this.#size;
  }

  push(key: string, item: T): void {
    const line = this.#lines.get(key);
    if (line) line.push(item);
    else this.#lines.set(key, [item]);
    this.#size++;
  }

  /** The item `shift` would return, left in place. */
  peek(): T | undefined {
    for (const line of this.#lines.values()) return line[0];
    return undefined;
  }

  /** The head of the next key's line; that key goes to the back of the turn order. */
  shift(): T | undefined {
    return this.take(() => 'take');
  }

  /**
   * Asks about each line's head in turn order: `take` it (that key goes to the
   * back), `skip` that key this time, or `stop` looking.
   */
  take(choose: (key: string, head: T) => 'take' | 'skip' | 'stop'): T | undefined {
    for (const [key, line] of this.#lines) {
      const verdict = choose(key, line[0] as T);
      if (verdict === 'stop') return undefined;
      if (verdict === 'skip') continue;
      const item = line.shift() as T;
      this.#lines.delete(key);
      if (line.length > 0) this.#lines.set(key, line);
      this.#size--;
      return item;
    }
    return undefined;
  }

  /** Takes one item out of its line wherever it stands; false if it was not there. */
  remove(key: string, item: T): boolean {
    const line = this.#lines.get(key);
    const index = line ? line.indexOf(item) : -1;
    if (!line || index < 0) return false;
    line.splice(index, 1);
    if (line.length === 0) this.#lines.delete(key);
    this.#size--;
    return true;
  }
}
