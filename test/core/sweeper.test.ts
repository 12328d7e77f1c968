import { describe, expect, it, vi } from 'vitest';
import { Sweeper } from '../../src/core/sweeper.js';

describe('Sweeper', () => {
  it('runs every task each tick; a failing task is reported and does not stop the next', async () => {
    const swept: [string, number][] = [];
    const failed: [string, string][] = [];
    let jobs = 0;
    const sweeper = new Sweeper(
      [
        {
          name: 'expired memories',
          run: async () => {
            throw new Error('the store is down');
          },
        },
        { name: 'finished jobs', run: async () => ++jobs },
      ],
      10,
      {
        swept: (task, count) => swept.push([task, count]),
        failed: (task, error) => failed.push([task, (error as Error).message]),
      },
    );
    await vi.waitFor(() => expect(swept.length).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    await sweeper.close();
    expect(swept.slice(0, 2)).toEqual([
      ['finished jobs', 1],
      ['finished jobs', 2],
    ]);
    expect(failed[0]).toEqual(['expired memories', 'the store is down']);
    expect(failed.length).toBeGreaterThanOrEqual(swept.length);
  });

  it('never runs two ticks at once, and close waits for the one in progress', async () => {
    let active = 0;
    let most = 0;
    let done = 0;
    const sweeper = new Sweeper(
      [
        {
          name: 'slow',
          run: async () => {
            active++;
            most = Math.max(most, active);
            await new Promise((resolve) => setTimeout(resolve, 50));
            active--;
            return ++done;
          },
        },
      ],
      5,
      { swept: () => {}, failed: () => {} },
    );
    await vi.waitFor(() => expect(active).toBe(1), { timeout: 5_000 });
    await sweeper.close();
    expect(active).toBe(0);
    const after = done;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(done).toBe(after); // no tick after close
    expect(most).toBe(1);
  });
});
