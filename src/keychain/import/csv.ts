// A strict RFC 4180 CSV reader for password-manager exports: quoted fields with doubled quotes,
// CRLF or LF line ends, a UTF-8 byte-order mark tolerated at the start. Anything else malformed (a
// quote inside an unquoted field, an unterminated quote, text after a closing quote) is EINVAL with
// the line number — never a silently shifted column, which would put a password in the wrong field.
import { CofferError } from '../../errors.js';

export const MAX_CSV_BYTES = 32 << 20;
const MAX_ROWS = 200_000;
const MAX_FIELDS = 256;

export function parseCsv(text: string): string[][] {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'CSV input must be text');
  if (text.length > MAX_CSV_BYTES)
    throw new CofferError('E2BIG', `CSV input is larger than ${MAX_CSV_BYTES} bytes`);
  const input = text.startsWith('\ufeff') ? text.slice(1) : text;
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let line = 1;
  let i = 0;
  let quoted = false;
  let fieldStarted = false;
  const endField = () => {
    row.push(field);
    if (row.length > MAX_FIELDS)
      throw new CofferError('E2BIG', `CSV line ${line} has more than ${MAX_FIELDS} fields`);
    field = '';
    fieldStarted = false;
  };
  const endRow = () => {
    endField();
    // A blank line (one empty field) separates nothing: skip it.
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    if (rows.length > MAX_ROWS) throw new CofferError('E2BIG', `CSV input has more than ${MAX_ROWS} rows`);
    row = [];
  };
  while (i < input.length) {
    const c = input[i] as string;
    if (quoted) {
      if (c === '"') {
        if (input[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = input[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r')
          throw new CofferError('EINVAL', `CSV line ${line}: text after a closing quote`);
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (fieldStarted) throw new CofferError('EINVAL', `CSV line ${line}: a quote inside an unquoted field`);
      quoted = true;
      fieldStarted = true;
      i++;
    } else if (c === ',') {
      endField();
      i++;
    } else if (c === '\r' || c === '\n') {
      endRow();
      i += c === '\r' && input[i + 1] === '\n' ? 2 : 1;
      line++;
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  if (quoted) throw new CofferError('EINVAL', `CSV line ${line}: a quoted field is not closed`);
  if (fieldStarted || field !== '' || row.length > 0) endRow();
  return rows;
}

/** Rows as objects keyed by the header row (names matched case-insensitively, trimmed). */
export function csvRecords(text: string, required: string[]): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new CofferError('EINVAL', 'the CSV file is empty');
  const names = header.map((h) => h.trim().toLowerCase());
  for (const need of required) {
    if (!names.includes(need))
      throw new CofferError('EINVAL', `the CSV header lacks a '${need}' column (found: ${names.join(', ')})`);
  }
  return rows.map((cells, index) => {
    if (cells.length !== names.length)
      throw new CofferError(
        'EINVAL',
        `CSV row ${index + 2} has ${cells.length} fields, the header ${names.length}`,
      );
    return Object.fromEntries(names.map((name, i) => [name, cells[i] as string]));
  });
}
