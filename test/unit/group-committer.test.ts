// GroupCommitter: a lone item goes at once; items arriving while groups are in flight wait and go
// together; an item's own error fails only that item; a thrown error fails the whole group.
import { describe, expect, it } from '@jest/globals';
import { GroupCommitter } from '@taskengine/core/store/group-committer';

/** A run() whose calls stay open until released, recording each group it was given. */
function gatedRun() {
  const groups: number[][] = [];
  const gates: Array<() => void> = [];
  const run = async (items: number[]): Promise<Array<number | Error>> => {
    groups.push(items);
    await new Promise<void>((release) => gates.push(release));
    return items.map((n) => (n < 0 ? new Error(`bad ${n}`) : n * 10));
  };
  const releaseAll = () => gates.splice(0).forEach((release) => release());
  return { groups, run, releaseAll };
}

describe('GroupCommitter', () => {
  it('sends a lone item at once and groups the items that arrive while earlier groups are in flight', async () => {
    const { groups, run, releaseAll } = gatedRun();
    const committer = new GroupCommitter(run, 1);
    const first = committer.submit(1);
    await Promise.resolve();
    expect(groups).toEqual([[1]]);
    const rest = [2, 3, 4].map((n) => committer.submit(n));
    await Promise.resolve();
    expect(groups).toEqual([[1]]); // waiting: the only slot is taken
    releaseAll();
    expect(await first).toBe(10);
    await new Promise((resolve) => setImmediate(resolve));
    expect(groups).toEqual([[1], [2, 3, 4]]);
    releaseAll();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it("fails only the item whose outcome is an Error, and every item when run throws", async () => {
    const { run, releaseAll } = gatedRun();
    const committer = new GroupCommitter(run, 2);
    const good = committer.submit(5);
    const bad = committer.submit(-1);
    await Promise.resolve();
    releaseAll();
    expect(await good).toBe(50);
    await expect(bad).rejects.toThrow('bad -1');

    const failing = new GroupCommitter<number, number>(async () => {
      throw new Error('redis down');
    });
    await expect(Promise.all([failing.submit(1), failing.submit(2)])).rejects.toThrow('redis down');
  });
});
