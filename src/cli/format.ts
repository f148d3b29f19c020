/** Plain-text tables for people; `--json` output bypasses this entirely. */

export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((row) => row.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
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
