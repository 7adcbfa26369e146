/**
 * Deadlines: the one coarse timer of the upstream client, driven by an injected clock.
 */
import { describe, expect, it } from 'vitest';
import { Deadlines, tickFor, type Expiring } from '../../../../src/worker/upstream/deadlines.js';

function entry(fired: string[], name: string): Expiring {
  return { deadlineAt: 0, deadlineIndex: -1, onDeadline: () => fired.push(name) };
}

describe('Deadlines', () => {
  it('fires what passed, once, and keeps the rest', () => {
    let now = 0;
    const d = new Deadlines(10, () => now);
    const fired: string[] = [];
    const a = entry(fired, 'a');
    const b = entry(fired, 'b');
    const c = entry(fired, 'c');
    d.arm(a, 100);
    d.arm(b, 50);
    d.arm(c, 200);
    now = 99;
    d.check();
    expect(fired).toEqual(['b']);
    now = 100;
    d.check();
    d.check();
    expect(fired).toEqual(['b', 'a']);
    expect(d.size).toBe(1);
    d.disarm(c);
    expect(d.size).toBe(0);
    now = 1000;
    d.check();
    expect(fired).toEqual(['b', 'a']);
  });

  it('re-arming moves a deadline instead of adding one', () => {
    let now = 0;
    const d = new Deadlines(10, () => now);
    const fired: string[] = [];
    const a = entry(fired, 'a');
    d.arm(a, 100);
    now = 90;
    d.arm(a, 100);
    expect(d.size).toBe(1);
    now = 150;
    d.check();
    expect(fired).toEqual([]);
    now = 190;
    d.check();
    expect(fired).toEqual(['a']);
  });

  it('an entry that re-arms itself from onDeadline stays armed; a throwing one does not stop the others', () => {
    let now = 0;
    const d = new Deadlines(10, () => now);
    const fired: string[] = [];
    const again: Expiring = { deadlineAt: 0, deadlineIndex: -1, onDeadline: () => { fired.push('again'); d.arm(again, 10); } };
    const bad: Expiring = { deadlineAt: 0, deadlineIndex: -1, onDeadline: () => { throw new Error('boom'); } };
    const ok = entry(fired, 'ok');
    d.arm(bad, 5);
    d.arm(again, 5);
    d.arm(ok, 5);
    now = 5;
    d.check();
    expect(fired.sort()).toEqual(['again', 'ok']);
    expect(d.size).toBe(1);
    d.disarm(again);
  });

  it('the tick is a 100th of the shortest timeout, within 5 ms..1 s', () => {
    expect([tickFor(1), tickFor(200), tickFor(5000), tickFor(60_000), tickFor(600_000)]).toEqual([5, 5, 50, 600, 1000]);
  });
});
