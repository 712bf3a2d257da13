import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.ts';
import { Prng } from './prng.ts';

describe('EventQueue', () => {
  it('pops by time, then in insertion order at equal times', () => {
    const q = new EventQueue<string>();
    q.push(5, 'c');
    q.push(1, 'a');
    q.push(5, 'd');
    q.push(3, 'b');
    q.push(5, 'e');
    const out: string[] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push(`${e.time}${e.event}`);
    expect(out).toEqual(['1a', '3b', '5c', '5d', '5e']);
    expect(q.size).toBe(0);
    expect(q.pop()).toBeUndefined();
  });

  it('matches a sorted reference on random pushes and pops', () => {
    const p = new Prng(9);
    const q = new EventQueue<number>();
    const ref: { time: number; seq: number }[] = [];
    let seq = 0;
    for (let i = 0; i < 5000; i++) {
      if (p.chance(0.6) || ref.length === 0) {
        const time = p.int(100);
        q.push(time, seq);
        ref.push({ time, seq: seq++ });
      } else {
        ref.sort((a, b) => a.time - b.time || a.seq - b.seq);
        const want = ref.shift()!;
        expect(q.peekTime()).toBe(want.time);
        expect(q.pop()).toEqual({ time: want.time, event: want.seq });
      }
    }
  });
});
