/**
 * Copies one tenant's rows of one table to object storage, streaming: `COPY (SELECT …
 * WHERE tenant = …) TO STDOUT` → row count → gzip → (encryption) → multipart upload, at most
 * two parts in memory. Runs inside the snapshot's repeatable-read transaction, so every
 * table reads the same snapshot.
 */
import type { MasterKey } from '../../shared/archive/encryption.js';
import { encodeTenant } from '../../shared/archive/keys.js';
import { type TableDataStream, tableDataStream } from '../../shared/archive/snapshot-file.js';
import { type PgSession, quoteIdent, quoteLiteral, quoteQualified } from '../../shared/pg/index.js';
import type { ObjectStore } from '../../shared/s3/index.js';
import type { TableDefinition } from '../../shared/source/table-definition.js';

/** What a table copy stored. */
export interface CopiedTable {
  readonly rows: bigint;
  readonly sizeBytes: number;
  readonly sha256: string;
}

/** Options of a table copy. */
export interface TableCopyOptions {
  readonly compressionLevel: number;
  readonly partBytes: number;
  readonly encryptWith: MasterKey | undefined;
}

/** The COPY statement of a tenant's rows (the columns of the data file, in order). */
export function copyStatement(definition: TableDefinition, tenant: string): string {
  const columns = definition.copyColumns.map(quoteIdent).join(', ');
  return `COPY (SELECT ${columns} FROM ${quoteQualified(definition.schema, definition.table)} WHERE ${quoteIdent(definition.tenantColumn)} = ${quoteLiteral(tenant)}) TO STDOUT`;
}

/** Streams the tenant's rows of `definition` to `key`. */
export async function copyTable(
  session: PgSession,
  store: ObjectStore,
  key: string,
  definition: TableDefinition,
  tenant: string,
  options: TableCopyOptions,
): Promise<CopiedTable> {
  const data: TableDataStream = tableDataStream(session.copyTo(copyStatement(definition, tenant)), {
    compressionLevel: options.compressionLevel,
    encryptWith: options.encryptWith,
  });
  const upload = store.upload(key, data.output, {
    partSizeBytes: options.partBytes,
    contentType: options.encryptWith ? 'application/octet-stream' : 'application/gzip',
    metadata: {
      'backtrack-tenant': encodeTenant(tenant),
      'backtrack-table': encodeTenant(`${definition.schema}.${definition.table}`),
      'backtrack-key-id': options.encryptWith?.id ?? '',
    },
  });
  try {
    const [uploaded] = await Promise.all([upload, data.finished]);
    return { rows: data.counter.rows, sizeBytes: uploaded.size, sha256: uploaded.sha256 };
  } catch (e) {
    // Stop reading the table: the upload failed, or the COPY did (either ends both).
    data.output.destroy(e instanceof Error ? e : new Error(String(e)));
    await Promise.allSettled([upload, data.finished]);
    throw e;
  }
}
