import { describe, expect, it } from 'vitest';
import { settleAll } from '../src/domain/settle-all.ts';

describe('settleAll', () => {
  it('returns every value in order', async () => {
    expect(await settleAll<[number, string]>([Promise.resolve(1), Promise.resolve('two')])).toEqual([1, 'two']);
  });

  it('fails with the first rejection only after every promise has settled', async () => {
    let slowDone = false;
    const slow = new Promise<string>((resolve) =>
      setTimeout(() => {
        slowDone = true;
        resolve('late');
      }, 30),
    );
    const error = await settleAll<[string, string, string]>([
      slow,
      Promise.reject(new Error('first')),
      Promise.reject(new Error('second')),
    ]).catch((e: unknown) => e);
    expect((error as Error).message).toBe('first');
    expect(slowDone).toBe(true);
  });
});
