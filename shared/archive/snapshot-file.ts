/**
 * The stored form of a base snapshot (restore reads it, the snapshotter writes it):
 *   - one object per table: the tenant's rows as `COPY … TO STDOUT` text, gzip-compressed,
 *     then encrypted when a key is configured (encryption.ts). Text format ends every row
 *     with a newline and escapes newlines inside values, so rows are counted by newlines;
 *   - a manifest (JSON, encrypted likewise): positions, table definitions and checksums,
 *     so the repository describes itself without the catalog.
 * Every stream here is bounded in memory: nothing holds a whole table.
 */
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';

import { z } from 'zod';

import { BacktrackError } from '../errors.js';
import { tableDefinitionSchema } from '../source/table-definition.js';

import {
  decrypt,
  decryptingStream,
  encrypt,
  encryptingStream,
  type Keyring,
  type MasterKey,
} from './encryption.js';

/** Version of the snapshot layout. */
export const SNAPSHOT_FORMAT = 'backtrack-snapshot/1';

const NEWLINE = 0x0a;
const gzipAsync = promisify(gzip);

/** Counts the rows (newlines) of COPY text passing through. */
export class RowCounter extends Transform {
  rows = 0n;
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let at = chunk.indexOf(NEWLINE);
    while (at !== -1) {
      this.rows += 1n;
      at = chunk.indexOf(NEWLINE, at + 1);
    }
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Input bytes per gzip member, compressed independently. */
const MEMBER_BYTES = 1024 * 1024;
/** Members compressed at once (on libuv's thread pool). */
const MEMBERS_IN_FLIGHT = 3;

/**
 * gzip on several threads: the input is cut into 1 MiB pieces, each compressed as its own
 * gzip member on the thread pool, a few at a time, and emitted in order. Concatenated
 * members are one valid gzip stream (RFC 1952 §2.2); gunzip reads them as one. The ratio
 * is that of plain gzip (deflate's window is 32 KiB anyway).
 */
export class ParallelGzip extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  private members = 0;

  constructor(private readonly level: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < MEMBER_BYTES) return done();
    this.startMember();
    this.drainTo(MEMBERS_IN_FLIGHT - 1).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    // An empty input still becomes one (empty) gzip member: a valid gzip stream.
    if (this.pendingBytes > 0 || this.members === 0) this.startMember();
    this.drainTo(0).then(() => done(), done);
  }

  private startMember(): void {
    const input = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.members += 1;
    const member = gzipAsync(input, { level: this.level, memLevel: 9 });
    member.catch(() => undefined);
    this.inFlight.push(member);
  }

  /** Emits finished members, oldest first, until at most `left` are in flight. */
  private async drainTo(left: number): Promise<void> {
    while (this.inFlight.length > left) {
      const next = this.inFlight.shift();
      if (next) this.push(await next);
    }
  }
}

/** The stored stream of one table, and what it counted once it ended. */
export interface TableDataStream {
  /** Stored bytes (gzip, maybe encrypted) to upload. */
  readonly output: Readable;
  /** Resolves when the source is fully read and compressed; rejects with its error. */
  readonly finished: Promise<void>;
  /** Rows and uncompressed bytes seen (complete once `finished` resolved). */
  readonly counter: RowCounter;
}

/** Turns a COPY text stream into the stored form of a table. */
export function tableDataStream(
  copy: Readable,
  options: { compressionLevel: number; encryptWith: MasterKey | undefined },
): TableDataStream {
  const counter = new RowCounter();
  const output = new PassThrough();
  const stages: NodeJS.ReadWriteStream[] = [counter, new ParallelGzip(options.compressionLevel)];
  if (options.encryptWith) stages.push(encryptingStream(options.encryptWith));
  const finished = pipeline([copy, ...stages, output]);
  finished.catch(() => undefined);
  return { output, finished, counter };
}

/** An error met while reading a stored table, as INTEGRITY_FAILED unless already explained. */
function dataError(e: unknown, what: string): BacktrackError {
  if (e instanceof BacktrackError) return e;
  return new BacktrackError(
    'INTEGRITY_FAILED',
    `snapshot table ${what} is not valid gzip data (${(e as Error).message})`,
    { cause: e },
  );
}

/** The COPY text of a stored table object (decrypted and decompressed as it streams). */
export function readTableData(stored: Readable, keyring: Keyring, what: string): Readable {
  const plain = new PassThrough();
  pipeline(stored, decryptingStream(keyring, what), createGunzip(), plain).catch((e: unknown) =>
    plain.destroy(dataError(e, what)),
  );
  return plain;
}

/** Counts the rows of a stored table object, reading it through. */
export async function countStoredRows(
  stored: Readable,
  keyring: Keyring,
  what: string,
): Promise<bigint> {
  const counter = new RowCounter();
  try {
    await pipeline(
      stored,
      decryptingStream(keyring, what),
      createGunzip(),
      counter,
      async (source: AsyncIterable<unknown>) => {
        for await (const _chunk of source) {
          // drained: the counter counts
        }
      },
    );
  } catch (e) {
    throw dataError(e, what);
  }
  return counter.rows;
}

const digits = z.string().regex(/^\d+$/);

/** The manifest of a snapshot. */
export const snapshotManifestSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  id: z.string().uuid(),
  tenant: z.string(),
  kind: z.enum(['full', 'schema', 'pre_restore']),
  takenAt: z.string(),
  snapshot: z.object({ xmin: digits, xmax: digits, xip: z.array(digits) }),
  lsn: z.string(),
  serverVersion: z.string(),
  log: z.object({
    topic: z.string(),
    partition: z.number().int(),
    offset: digits,
    truncatePartition: z.number().int(),
    truncateOffset: digits,
  }),
  tables: z.array(
    z.object({
      schema: z.string(),
      table: z.string(),
      objectKey: z.string().nullable(),
      rows: digits.nullable(),
      sizeBytes: z.number().int().nullable(),
      sha256: z.string().nullable(),
      definition: tableDefinitionSchema,
    }),
  ),
  createdBy: z.string(),
});

/** A snapshot's manifest. */
export type SnapshotManifest = z.infer<typeof snapshotManifestSchema>;

/** The stored bytes of a manifest (encrypted when a key is given). */
export function encodeManifest(
  manifest: SnapshotManifest,
  encryptWith: MasterKey | undefined,
): Buffer {
  const json = Buffer.from(JSON.stringify(manifest, null, 2), 'utf8');
  return encryptWith ? encrypt(json, encryptWith) : json;
}

/** Reads a stored manifest; INTEGRITY_FAILED when it is not one. */
export function decodeManifest(stored: Buffer, keyring: Keyring, what: string): SnapshotManifest {
  const plain = decrypt(stored, keyring, what);
  let json: unknown;
  try {
    json = JSON.parse(plain.toString('utf8'));
  } catch (cause) {
    throw new BacktrackError('INTEGRITY_FAILED', `snapshot manifest ${what} is not JSON`, {
      cause,
    });
  }
  const parsed = snapshotManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `snapshot manifest ${what} is not valid (${issue?.path.join('.')}: ${issue?.message})`,
    );
  }
  return parsed.data;
}
