// Textual encodings of DER and other binary key files (RFC 7468; SPEC §14.4.1): one labelled block,
// base64 body. The reader is strict where ambiguity would matter — exactly one block, nothing but
// whitespace around it, no RFC 1421 headers, canonical base64 — and lenient only where real writers
// differ (LF or CRLF; line length up to a bound, since OpenSSL writes 64 columns, OpenSSH 70 and
// MIME tools 76). Legacy OpenSSL encryption (Proc-Type/DEK-Info headers) is recognised and refused
// with the command that converts it, rather than reported as garbage.
import { CofferError } from '../errors.js';
import { decodeBase64, encodeBase64 } from './text-encodings.js';

/** Largest PEM text accepted: the biggest key Coffer reads (ML-DSA-65 "both" PKCS#8) is ~6 KiB of text. */
export const MAX_PEM_LENGTH = 64 * 1024;

export interface PemBlock {
  label: string;
  bytes: Uint8Array;
}

export function encodePem(label: string, bytes: Uint8Array, lineLength = 64): string {
  const body = encodeBase64(bytes);
  const lines = body.match(new RegExp(`.{1,${lineLength}}`, 'g')) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The label of a text's first BEGIN line, if it has one (for format detection). */
export function pemLabel(text: string): string | undefined {
  return /^\s*-----BEGIN ([A-Z0-9 ]+)-----\r?\n/.exec(text)?.[1];
}

/**
 * Exactly one PEM block whose label is one of `labels`; returns the label and the decoded bytes.
 * Body lines are 1 to `maxLineLength` characters; only the last may be shorter than the first.
 * `maxLength` bounds the text (keys: MAX_PEM_LENGTH; armoured files pass their own bound).
 */
export function decodePem(
  text: unknown,
  labels: readonly string[],
  maxLineLength = 76,
  maxLength = MAX_PEM_LENGTH,
): PemBlock {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'PEM input must be a string');
  if (text.length > maxLength) throw new CofferError('E2BIG', `PEM input over ${maxLength} characters`);
  const lines = text.trim().split(/\r?\n/);
  const begin = /^-----BEGIN ([A-Z0-9 ]+)-----$/.exec(lines[0] ?? '');
  const label = begin?.[1];
  if (label === undefined || !labels.includes(label)) {
    throw new CofferError(
      'EINVAL',
      `expected one PEM block labelled ${labels.map((l) => `"${l}"`).join(' or ')}`,
    );
  }
  if (lines.length < 3 || lines[lines.length - 1] !== `-----END ${label}-----`) {
    throw new CofferError('EINVAL', `PEM block "${label}" has no matching END line (or more than one block)`);
  }
  const body = lines.slice(1, -1);
  if (body.some((line) => line.startsWith('Proc-Type:') || line.startsWith('DEK-Info:'))) {
    throw new CofferError(
      'EINVAL',
      'legacy OpenSSL-encrypted PEM (Proc-Type/DEK-Info) is not supported; convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`',
    );
  }
  const width = body[0]!.length;
  body.forEach((line, i) => {
    const last = i === body.length - 1;
    if (
      line.length === 0 ||
      line.length > maxLineLength ||
      (!last && line.length !== width) ||
      line.length > width
    ) {
      throw new CofferError(
        'EINVAL',
        `PEM block "${label}": body lines must be equal, 1 to ${maxLineLength} characters`,
      );
    }
  });
  return { label, bytes: decodeBase64(body.join(''), 'base64', `PEM block "${label}"`) };
}
