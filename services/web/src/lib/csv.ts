/**
 * CSV (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled, lines end
 * in CRLF. Text that a spreadsheet would run as a formula (= + - @, tab, carriage return first)
 * gets a leading apostrophe: audit fields hold text chosen by others (a failed sign-in records
 * the name that was tried).
 */
export type CsvValue = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) {
    return '';
  }
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) {
    text = `'${text}`;
  }
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
