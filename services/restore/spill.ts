/**
 * Spill files of a restore: append-only files of length-prefixed binary records, and files
 * of COPY text lines. Both are written through a buffer and read back in chunks, with
 * synchronous I/O: the fold is CPU work between awaits, and a restore spills only while
 * it has nothing else to do.
 */
import { appendFileSync, closeSync, openSync, readSync, writeSync } from 'node:fs';

import { BacktrackError } from '../../shared/errors.js';
import type { ColumnValue } from '../../shared/events/index.js';

const READ_CHUNK = 1024 * 1024;
const NULL_LENGTH = 0xffffffff;

function diskError(path: string, action: string, cause: unknown): BacktrackError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BacktrackError(
    'INTERNAL',
    `cannot ${action} restore spill file ${path}: ${reason}; free space there or point BACKTRACK_RESTORE_TEMP_DIR at a roomier folder`,
    { cause },
  );
}

/** Builds one record in a growable buffer. */
export class RecordEncoder {
  private buffer = Buffer.allocUnsafe(4096);
  private used = 0;

  /** Starts a record of `type` (the length is filled in by {@link finish}). */
  begin(type: number): this {
    this.used = 4;
    return this.u8(type);
  }

  u8(value: number): this {
    this.ensure(1);
    this.buffer[this.used++] = value;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    this.buffer.writeUInt32LE(value, this.used);
    this.used += 4;
    return this;
  }

  u64(value: bigint): this {
    this.ensure(8);
    this.buffer.writeBigUInt64LE(value, this.used);
    this.used += 8;
    return this;
  }

  text(value: string | null): this {
    if (value === null) return this.u32(NULL_LENGTH);
    const length = Buffer.byteLength(value);
    this.u32(length);
    this.ensure(length);
    this.buffer.write(value, this.used, 'utf8');
    this.used += length;
    return this;
  }

  texts(values: readonly (string | null)[]): this {
    this.u32(values.length);
    for (const value of values) this.text(value);
    return this;
  }

  /** A row image: null, or its values with their kinds. */
  image(values: readonly ColumnValue[] | null): this {
    if (values === null) return this.u32(NULL_LENGTH);
    this.u32(values.length);
    for (const value of values) {
      switch (value.kind) {
        case 'null':
          this.u8(0);
          break;
        case 'text':
          this.u8(1).text(value.text);
          break;
        case 'unchanged-toast':
          this.u8(2);
          break;
        case 'absent':
          this.u8(3);
          break;
      }
    }
    return this;
  }

  /** The finished record (valid until the next {@link begin}). */
  finish(): Buffer {
    this.buffer.writeUInt32LE(this.used - 4, 0);
    return this.buffer.subarray(0, this.used);
  }

  private ensure(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.used + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.used);
    this.buffer = grown;
  }
}

/** Reads the fields of one record. */
export class RecordDecoder {
  private at = 0;

  constructor(private readonly buffer: Buffer) {}

  u8(): number {
    return this.buffer[this.at++] ?? 0;
  }

  u32(): number {
    const value = this.buffer.readUInt32LE(this.at);
    this.at += 4;
    return value;
  }

  u64(): bigint {
    const value = this.buffer.readBigUInt64LE(this.at);
    this.at += 8;
    return value;
  }

  text(): string | null {
    const length = this.u32();
    if (length === NULL_LENGTH) return null;
    const value = this.buffer.toString('utf8', this.at, this.at + length);
    this.at += length;
    return value;
  }

  texts(): (string | null)[] {
    const count = this.u32();
    const values: (string | null)[] = new Array<string | null>(count);
    for (let i = 0; i < count; i++) values[i] = this.text();
    return values;
  }

  image(): ColumnValue[] | null {
    const count = this.u32();
    if (count === NULL_LENGTH) return null;
    const values: ColumnValue[] = new Array<ColumnValue>(count);
    for (let i = 0; i < count; i++) {
      const kind = this.u8();
      if (kind === 1) values[i] = { kind: 'text', text: this.text() ?? '' };
      else if (kind === 0) values[i] = { kind: 'null' };
      else if (kind === 2) values[i] = { kind: 'unchanged-toast' };
      else values[i] = { kind: 'absent' };
    }
    return values;
  }
}

/** An append-only file written through a buffer. */
export class SpillWriter {
  private readonly fd: number;
  private readonly buffer: Buffer;
  private used = 0;
  private written = 0;

  constructor(
    readonly path: string,
    bufferBytes = 64 * 1024,
  ) {
    try {
      this.fd = openSync(path, 'w');
    } catch (error) {
      throw diskError(path, 'create', error);
    }
    this.buffer = Buffer.allocUnsafe(bufferBytes);
  }

  /** Bytes written so far (buffered included). */
  get bytes(): number {
    return this.written + this.used;
  }

  write(bytes: Buffer): void {
    if (this.used + bytes.length > this.buffer.length) this.flush();
    if (bytes.length > this.buffer.length) {
      this.writeOut(bytes);
      return;
    }
    bytes.copy(this.buffer, this.used);
    this.used += bytes.length;
  }

  writeText(text: string): void {
    const length = Buffer.byteLength(text);
    if (this.used + length > this.buffer.length) this.flush();
    if (length > this.buffer.length) {
      this.writeOut(Buffer.from(text, 'utf8'));
      return;
    }
    this.used += this.buffer.write(text, this.used, 'utf8');
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.used === 0) return;
    this.writeOut(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  private writeOut(bytes: Buffer): void {
    try {
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset);
    } catch (error) {
      throw diskError(this.path, 'write', error);
    }
    this.written += bytes.length;
  }
}

/** Reads a file in chunks; `next` hands out consecutive byte ranges. */
class ChunkReader {
  private readonly fd: number;
  private buffer = Buffer.allocUnsafe(READ_CHUNK);
  private start = 0;
  private end = 0;
  private eof = false;

  constructor(private readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (error) {
      throw diskError(path, 'open', error);
    }
  }

  /** The unread bytes in memory. */
  get available(): Buffer {
    return this.buffer.subarray(this.start, this.end);
  }

  consume(bytes: number): void {
    this.start += bytes;
  }

  /** Reads more; false at the end of the file. Keeps the unread bytes, growing to `want`. */
  fill(want = 0): boolean {
    if (this.eof) return false;
    const pending = this.end - this.start;
    const size = Math.max(this.buffer.length, want + READ_CHUNK);
    const target = size === this.buffer.length ? this.buffer : Buffer.allocUnsafe(size);
    this.buffer.copy(target, 0, this.start, this.end);
    this.buffer = target;
    this.start = 0;
    this.end = pending;
    let read: number;
    try {
      read = readSync(this.fd, this.buffer, this.end, this.buffer.length - this.end, null);
    } catch (error) {
      throw diskError(this.path, 'read', error);
    }
    if (read === 0) this.eof = true;
    this.end += read;
    return read > 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The records of a file written with {@link RecordEncoder}s, in order: (type, fields). */
export function* readRecords(path: string): Generator<[number, RecordDecoder]> {
  const reader = new ChunkReader(path);
  try {
    for (;;) {
      let available = reader.available;
      if (available.length < 4) {
        if (!reader.fill()) break;
        continue;
      }
      const length = available.readUInt32LE(0);
      if (available.length < 4 + length) {
        if (!reader.fill(4 + length)) {
          throw new BacktrackError('INTERNAL', `restore spill file ${path} ends mid-record`);
        }
        available = reader.available;
        if (available.length < 4 + length) continue;
      }
      const record = available.subarray(5, 4 + length);
      const type = available[4] ?? 0;
      reader.consume(4 + length);
      yield [type, new RecordDecoder(record)];
    }
    if (reader.available.length > 0) {
      throw new BacktrackError('INTERNAL', `restore spill file ${path} ends mid-record`);
    }
  } finally {
    reader.close();
  }
}

/** The lines of a text file (without their newline). */
export function* readLines(path: string): Generator<string> {
  const reader = new ChunkReader(path);
  try {
    for (;;) {
      const available = reader.available;
      const newline = available.indexOf(0x0a);
      if (newline < 0) {
        if (!reader.fill(available.length)) break;
        continue;
      }
      yield available.toString('utf8', 0, newline);
      reader.consume(newline + 1);
    }
    if (reader.available.length > 0) yield reader.available.toString('utf8');
  } finally {
    reader.close();
  }
}

/**
 * Lines of text sorted into many files (one per partition) with a bounded buffer: lines
 * wait in memory until `bufferBytes` are pending in all, then every file is appended to
 * and closed again, so no more than one file is open at a time, however many there are.
 */
export class PartitionedLines {
  private readonly pending = new Map<number, string[]>();
  private pendingBytes = 0;

  constructor(
    private readonly pathOf: (partition: number) => string,
    private readonly bufferBytes = 8 * 1024 * 1024,
  ) {}

  add(partition: number, line: string): void {
    let lines = this.pending.get(partition);
    if (!lines) {
      lines = [];
      this.pending.set(partition, lines);
    }
    lines.push(line);
    this.pendingBytes += line.length + 1;
    if (this.pendingBytes >= this.bufferBytes) this.flush();
  }

  /** Writes out what is pending. */
  flush(): void {
    for (const [partition, lines] of this.pending) {
      const path = this.pathOf(partition);
      try {
        appendFileSync(path, `${lines.join('\n')}\n`);
      } catch (error) {
        throw diskError(path, 'write', error);
      }
    }
    this.pending.clear();
    this.pendingBytes = 0;
  }
}
