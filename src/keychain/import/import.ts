// Importing an export into the keychain (docs/keychain.md "Importing"): read it (formats.ts), check
// every candidate like a hand-made item, write the good ones in atomic batches, and report what was
// imported and what was skipped with the reason. A bad file is EINVAL with nothing written.
import { CofferError } from '../../errors.js';
import type { AddItemSpec, ItemInfo } from '../types.js';
import { assertGroup, validateAdd } from '../validate.js';
import { IMPORT_FORMATS, type ImportFormat, readExport } from './formats.js';

export interface ImportRequest {
  format: ImportFormat;
  /** The export's text (UTF-8). */
  data: string;
  /** Access group of every imported item (default `default`). */
  group?: string;
  /** Default true. */
  sync?: boolean;
}

export interface ImportReport {
  imported: { entry: number; id: string; name?: string }[];
  skipped: { entry: number; name?: string; reason: string }[];
}

/** What an import needs of the keychain (Keychain implements it): one durable batch of new items. */
export interface ItemSink {
  addMany(specs: AddItemSpec[], event?: string): Promise<ItemInfo[]>;
}

export async function importExport(keychain: ItemSink, request: ImportRequest): Promise<ImportReport> {
  if (typeof request !== 'object' || request === null)
    throw new CofferError('EINVAL', 'request must be an object');
  if (!(IMPORT_FORMATS as readonly string[]).includes(request.format))
    throw new CofferError('EINVAL', `format must be one of ${IMPORT_FORMATS.join(', ')}`);
  if (request.group !== undefined) assertGroup(request.group);
  if (request.sync !== undefined && typeof request.sync !== 'boolean')
    throw new CofferError('EINVAL', 'sync must be a boolean');
  const report: ImportReport = { imported: [], skipped: [] };
  const accepted: { entry: number; name?: string; spec: AddItemSpec }[] = [];
  for (const candidate of readExport(request.format, request.data)) {
    const named = candidate.name ? { name: candidate.name.slice(0, 256) } : {};
    if (!candidate.spec) {
      report.skipped.push({ entry: candidate.entry, ...named, reason: candidate.reason ?? 'not importable' });
      continue;
    }
    const spec = {
      ...candidate.spec,
      ...(request.group !== undefined ? { group: request.group } : {}),
      ...(request.sync !== undefined ? { sync: request.sync } : {}),
    };
    try {
      validateAdd(spec);
      accepted.push({ entry: candidate.entry, ...named, spec });
    } catch (error) {
      if (!(error instanceof CofferError)) throw error;
      report.skipped.push({ entry: candidate.entry, ...named, reason: error.message });
    }
  }
  if (accepted.length > 0) {
    const infos: ItemInfo[] = await keychain.addMany(
      accepted.map((a) => a.spec),
      'item.import',
    );
    infos.forEach((info, i) => {
      const a = accepted[i]!;
      report.imported.push({ entry: a.entry, id: info.id, ...(a.name ? { name: a.name } : {}) });
    });
  }
  return report;
}
