/**
 * `waitingFor`: the text a pending step's checkpoint carries about what it waits for, shown
 * beside the task. The checkpoint is an adapter's JSON: only an own string counts, blank is
 * nothing, and a long text is cut.
 */
import { describe, expect, it } from 'vitest';
import { proofOf } from '../src/audit/proof.ts';
import { WAITING_FOR_MAX, waitingFor } from '../src/domain/waiting.ts';
import type { JsonObject, Task } from '../src/domain/types.ts';

describe('waitingFor', () => {
  it('reads an own string, spaces folded, and nothing else', () => {
    expect(waitingFor({ waitingFor: '  overdue:\n1 invoice open ' })).toBe('overdue: 1 invoice open');
    expect(waitingFor(null)).toBeNull();
    expect(waitingFor({})).toBeNull();
    expect(waitingFor({ waitingFor: 42 })).toBeNull();
    expect(waitingFor({ waitingFor: '   ' })).toBeNull();
    expect(waitingFor(Object.create({ waitingFor: 'inherited' }) as JsonObject)).toBeNull();
  });

  it('cuts a long text', () => {
    const text = waitingFor({ waitingFor: 'x'.repeat(WAITING_FOR_MAX + 50) })!;
    expect(text).toHaveLength(WAITING_FOR_MAX + 1);
    expect(text.endsWith('…')).toBe(true);
  });

  it('labels a pending task with it in the evidence, and a finished one without it', () => {
    const task = { state: 'pending', checkpoint: { waitingFor: 'overdue: 2 invoices open' }, evidence: null } as unknown as Task;
    expect(proofOf(task, []).label).toBe('not finished (pending): overdue: 2 invoices open');
    expect(proofOf({ ...task, checkpoint: null }, []).label).toBe('not finished (pending)');
  });
});
