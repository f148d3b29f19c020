/**
 * The acknowledgements push receivers' verify reports: taken once, and bounded, so an
 * attempt stopped between execute and verify leaves nothing behind for good.
 */
import { describe, expect, it } from 'vitest';
import { Acknowledgements } from '../providers/http/acknowledgements.ts';

describe('Acknowledgements', () => {
  it('gives each acknowledgement once', () => {
    const acks = new Acknowledgements<number>();
    acks.record('t-1', 202);
    expect(acks.take('t-1')).toBe(202);
    expect(acks.take('t-1')).toBeUndefined();
  });

  it('keeps only the newest entries, counting a re-recorded key as new', () => {
    const acks = new Acknowledgements<string>(2);
    acks.record('stopped', 'first');
    acks.record('a', 'a');
    acks.record('stopped', 'again');
    acks.record('b', 'b');
    expect(acks.take('a')).toBeUndefined();
    expect(acks.take('stopped')).toBe('again');
    expect(acks.take('b')).toBe('b');
  });
});
