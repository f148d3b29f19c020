/** CSV output (RFC 4180) for reports a spreadsheet opens; no CSV writer is among the dependencies. */

/**
 * One record per row, CRLF-terminated. A field with a comma, quote, CR or LF is quoted and
 * its quotes doubled. A field a spreadsheet would run as a formula (=, +, -, @, tab, CR
 * first) gets a leading apostrophe: subjects come from HR systems and are not trusted.
 */
export function toCsv(rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): string {
  return rows.map((row) => row.map(field).join(',') + '\r\n').join('');
}

function field(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
