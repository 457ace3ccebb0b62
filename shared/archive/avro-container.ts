/**
 * A writer of Avro object container files (Avro 1.x spec, "Object Container Files") for
 * records already in Avro binary form: the archiver copies each event's bytes from Kafka
 * into the file without decoding and re-encoding it. Blocks are deflated (raw deflate, as
 * the spec's `deflate` codec) on libuv's thread pool while the next block fills. Any Avro
 * reader (avsc's BlockDecoder among them) reads the result.
 */
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';

import avro from 'avsc';

const deflate = promisify(deflateRaw);

const MAGIC = Buffer.from('Obj\x01', 'latin1');

/** Avro `long` as a JS bigint (offsets, LSNs, times are all 64-bit). */
export const bigintLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (json: unknown) => BigInt(json as string | number),
  toJSON: (n: bigint) => n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/** Avro binary encoding of a long: zig-zag, then base-128 varint. */
export function encodeLong(value: bigint | number): Buffer {
  let n = BigInt.asUintN(64, (BigInt(value) << 1n) ^ (BigInt(value) >> 63n));
  const bytes: number[] = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0n);
  return Buffer.from(bytes);
}

function encodeBytes(value: Buffer): Buffer {
  return Buffer.concat([encodeLong(value.length), value]);
}

/** The file header: magic, metadata map (schema, codec and the caller's keys), sync marker. */
function header(
  schemaJson: string,
  metadata: Readonly<Record<string, Buffer>>,
  sync: Buffer,
): Buffer {
  const entries = Object.entries({
    ...metadata,
    'avro.schema': Buffer.from(schemaJson, 'utf8'),
    'avro.codec': Buffer.from('deflate', 'utf8'),
  });
  const parts = [MAGIC, encodeLong(entries.length)];
  for (const [key, value] of entries)
    parts.push(encodeBytes(Buffer.from(key, 'utf8')), encodeBytes(value));
  parts.push(encodeLong(0), sync);
  return Buffer.concat(parts);
}

/** Options of a {@link ContainerWriter}. */
export interface ContainerOptions {
  /** Uncompressed bytes per block. */
  readonly blockBytes: number;
  /** deflate level, 1…9. */
  readonly level: number;
}

/** Builds one container file in memory (compressed), record by record. */
export class ContainerWriter {
  private readonly head: Buffer;
  private readonly blocks: Promise<Buffer>[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingCount = 0;

  constructor(
    schemaJson: string,
    metadata: Readonly<Record<string, Buffer>>,
    private readonly sync: Buffer,
    private readonly options: ContainerOptions,
  ) {
    if (sync.length !== 16) throw new RangeError('an Avro sync marker has 16 bytes');
    this.head = header(schemaJson, metadata, sync);
  }

  /** Appends one record, given as the parts of its Avro binary encoding. */
  append(...parts: Buffer[]): void {
    for (const part of parts) {
      this.pending.push(part);
      this.pendingBytes += part.length;
    }
    this.pendingCount += 1;
    if (this.pendingBytes >= this.options.blockBytes) this.closeBlock();
  }

  /** The whole file. */
  async finish(): Promise<Buffer> {
    this.closeBlock();
    return Buffer.concat([this.head, ...(await Promise.all(this.blocks))]);
  }

  private closeBlock(): void {
    if (this.pendingCount === 0) return;
    const count = this.pendingCount;
    const raw = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingCount = 0;
    const block = deflate(raw, { level: this.options.level }).then((data) =>
      Buffer.concat([encodeLong(count), encodeLong(data.length), data, this.sync]),
    );
    block.catch(() => undefined);
    this.blocks.push(block);
  }
}
