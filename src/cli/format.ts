/** Plain-text tables for people; `--json` output bypasses this entirely. */
import picocolors from 'picocolors';

type Cell = string | number | null | undefined;
type Colors = ReturnType<typeof picocolors.createColors>;

export interface TableOptions {
  /** Widest line allowed; the `shrink` columns give way first, cut with an ellipsis. Default: no limit. */
  width?: number;
  /** Column indexes that may be cut to fit `width`, most expendable first. Default: the last column. */
  shrink?: number[];
  /** Styles a whole rendered row (after padding, so colour codes never skew the alignment). */
  styleRow?: (row: string[], line: string) => string;
}

export function table(headers: string[], rows: Cell[][], options: TableOptions = {}): string {
  const cells = rows.map((row) => row.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]?.length ?? 0)));
  if (options.width !== undefined) fit(widths, headers, options.width, options.shrink ?? [headers.length - 1]);
  const line = (row: string[]) =>
    row
      .map((c, i) => cut(c, widths[i]!))
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map((row) => (options.styleRow ? options.styleRow(row, line(row)) : line(row)))].join('\n') + '\n';
}

/** A cut column keeps this much: enough to tell step names apart. */
const MIN_SHRUNK_WIDTH = 12;

/** Narrows the shrinkable columns, in order, until the row fits; a column keeps at least its header. */
function fit(widths: number[], headers: string[], width: number, shrink: number[]): void {
  let excess = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1) - width;
  for (const i of shrink) {
    if (excess <= 0) return;
    const least = Math.max(headers[i]!.length, MIN_SHRUNK_WIDTH);
    const give = Math.min(excess, Math.max(0, widths[i]! - least));
    widths[i] = widths[i]! - give;
    excess -= give;
  }
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Breaks text into lines of at most `width` characters at spaces, each prefixed with `indent`. */
export function wrap(text: string, width: number, indent: string): string {
  const room = Math.max(20, width - indent.length);
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current && current.length + 1 + word.length > room) {
      lines.push(current);
      current = '';
    }
    current = current ? `${current} ${word}` : word;
    while (current.length > room) {
      lines.push(current.slice(0, room));
      current = current.slice(room);
    }
  }
  if (current) lines.push(current);
  return lines.map((l) => `${indent}${l}\n`).join('');
}

/** `2024-05-01 09:00:00Z`: ISO time without the milliseconds nobody reads. */
export function time(value: string | null | undefined): string {
  if (!value) return '-';
  return value.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** The identifier a person recognises: userName, then first email, then externalId. */
export function subjectLabel(subject: { userName?: string; emails?: string[]; externalId?: string } | undefined): string {
  return subject?.userName ?? subject?.emails?.[0] ?? subject?.externalId ?? '-';
}

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org) or TERM is dumb. */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Colors {
  const enabled = stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
  return picocolors.createColors(enabled);
}

/** A task or termination state, coloured by what it asks of the reader: red needs a person, green is done. */
export function stateColor(colors: Colors, state: string): (text: string) => string {
  if (state === 'failed') return (t) => colors.bold(colors.red(t));
  // Waived: settled by a person's word, not by a read-back.
  if (state === 'held' || state === 'waived' || state === 'completed_with_waivers') return colors.yellow;
  if (state === 'succeeded' || state === 'completed') return colors.green;
  if (state === 'cancelled' || state === 'skipped') return colors.dim;
  return (t) => t;
}

/** The width tables are fitted to: the terminal's, or 100 columns when output is not a terminal. */
export function outputWidth(stream: { columns?: number; isTTY?: boolean }): number {
  return stream.isTTY && stream.columns ? stream.columns : 100;
}
