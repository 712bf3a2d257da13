/**
 * The discrete-event queue (anchors §4.1): events ordered by (virtual time, insertion
 * sequence), so two events at the same instant run in the order they were scheduled and a run
 * is a pure function of its seed. A binary heap; no timers, no clock.
 */

interface Slot<E> {
  readonly time: number;
  readonly seq: number;
  readonly event: E;
}

/** A min-heap of events by (time, seq). */
export class EventQueue<E> {
  private readonly heap: Slot<E>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `event` at virtual `time` (after every event already scheduled at that time). */
  push(time: number, event: E): void {
    const h = this.heap;
    h.push({ time, seq: this.seq++, event });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  /** Time of the next event, or undefined when empty. */
  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }

  /** Removes and returns the next event with its time, or undefined when empty. */
  pop(): { time: number; event: E } | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return { time: top.time, event: top.event };
  }
}

function before<E>(a: Slot<E>, b: Slot<E>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
