import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { toCsv } from '../src/cli/csv.ts';

describe('toCsv (RFC 4180)', () => {
  it('quotes commas, quotes, CR and LF, and round-trips through a CSV parser', () => {
    const rows = [
      ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\r\nlf', '', 42],
      ['x', null, undefined, 'y', 'z', 'w', 0],
    ];
    const text = toCsv(rows);
    expect(text).toBe('plain,"a,b","say ""hi""","two\nlines","cr\r\nlf",,42\r\nx,,,y,z,w,0\r\n');
    expect(parse(text)).toEqual([
      ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\r\nlf', '', '42'],
      ['x', '', '', 'y', 'z', 'w', '0'],
    ]);
  });

  it('defuses a text field a spreadsheet would run as a formula, but not a number', () => {
    expect(toCsv([['=SUM(A1)', '+1', '-x', '@cmd', '\tx', -5, 'a=b']])).toBe("'=SUM(A1),'+1,'-x,'@cmd,'\tx,-5,a=b\r\n");
    expect(parse(toCsv([['=HYPERLINK("http://x","y")']]))).toEqual([[`'=HYPERLINK("http://x","y")`]]);
  });
});
