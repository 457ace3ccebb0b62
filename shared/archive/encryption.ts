/**
 * Client-side envelope encryption of stored objects (segments, snapshots and claim checks alike).
 *
 * Each object gets a fresh random 256-bit data key; the data key is wrapped (AES-256-GCM)
 * by the configured master key, and the object's bytes are encrypted with the data key in
 * authenticated chunks (AES-256-GCM, the STREAM construction): chunk i uses the nonce
 * prefix ‖ i ‖ last-flag, and every chunk authenticates the whole header. Chunks can be
 * checked and released one at a time (snapshots stream through here), and neither
 * reordering, truncation at a chunk boundary, nor a swapped header goes unnoticed.
 *
 * Layout (integers big-endian):
 *   magic "BTCRYPT1" (8) | key id length (1) | key id (ASCII) | chunk size (4)
 *   | wrap IV (12) | wrapped data key (32) | wrap tag (16) | nonce prefix (7)
 *   | frames: ciphertext (chunk size; the last one 0…chunk size) ‖ tag (16)
 *
 * The magic makes encrypted objects recognisable; readers call {@link decrypt} or
 * {@link decryptingStream}, which pass plain objects through unchanged.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

import type { EncryptionConfig } from '../config/index.js';
import { BacktrackError } from '../errors.js';

/** First bytes of every encrypted object. */
export const ENCRYPTION_MAGIC = Buffer.from('BTCRYPT1', 'ascii');

/** Plaintext bytes per authenticated chunk unless told otherwise. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

const TAG = 16;
const WRAP_IV = 12;
const DATA_KEY = 32;
const NONCE_PREFIX = 7;
const MIN_CHUNK = 1024;
const MAX_CHUNK = 16 * 1024 * 1024;
const CIPHER = 'aes-256-gcm';

/** A master key and its name. */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

/** The keys a process can use: the one it encrypts with, and lookup by id for reading. */
export interface Keyring {
  /** Encrypts new objects; undefined when encryption is off. */
  readonly current: MasterKey | undefined;
  find(id: string): MasterKey | undefined;
}

/** The keyring of a configuration (empty when no key is configured). */
export function keyringFrom(config: EncryptionConfig | undefined): Keyring {
  const current = config ? { id: config.keyId, key: config.masterKey } : undefined;
  return { current, find: (id) => (current && current.id === id ? current : undefined) };
}

/** True when `bytes` start like an encrypted object. */
export function isEncrypted(bytes: Uint8Array): boolean {
  return (
    bytes.length >= ENCRYPTION_MAGIC.length &&
    ENCRYPTION_MAGIC.equals(Buffer.from(bytes.buffer, bytes.byteOffset, ENCRYPTION_MAGIC.length))
  );
}

/** The parsed header of an encrypted object. */
interface Header {
  readonly bytes: Buffer;
  readonly keyId: string;
  readonly chunkBytes: number;
  readonly wrapIv: Buffer;
  readonly wrappedKey: Buffer;
  readonly wrapTag: Buffer;
  readonly noncePrefix: Buffer;
}

function headerLength(keyIdLength: number): number {
  return ENCRYPTION_MAGIC.length + 1 + keyIdLength + 4 + WRAP_IV + DATA_KEY + TAG + NONCE_PREFIX;
}

function corrupt(what: string, why: string): BacktrackError {
  return new BacktrackError('INTEGRITY_FAILED', `${what} is corrupt: ${why}`, {
    details: { object: what },
  });
}

/** Parses the header at the start of `bytes`; undefined when more bytes are needed. */
function parseHeader(bytes: Buffer, what: string): Header | undefined {
  const idAt = ENCRYPTION_MAGIC.length + 1;
  if (bytes.length < idAt) return undefined;
  const keyIdLength = bytes.readUInt8(ENCRYPTION_MAGIC.length);
  if (keyIdLength === 0) throw corrupt(what, 'its encryption header names no key');
  const length = headerLength(keyIdLength);
  if (bytes.length < length) return undefined;
  let at = idAt + keyIdLength;
  const keyId = bytes.subarray(idAt, at).toString('ascii');
  const chunkBytes = bytes.readUInt32BE(at);
  at += 4;
  if (chunkBytes < MIN_CHUNK || chunkBytes > MAX_CHUNK) {
    throw corrupt(what, `its encryption header gives an impossible chunk size ${chunkBytes}`);
  }
  const take = (n: number): Buffer => {
    const part = bytes.subarray(at, at + n);
    at += n;
    return part;
  };
  return {
    bytes: Buffer.from(bytes.subarray(0, length)),
    keyId,
    chunkBytes,
    wrapIv: take(WRAP_IV),
    wrappedKey: take(DATA_KEY),
    wrapTag: take(TAG),
    noncePrefix: take(NONCE_PREFIX),
  };
}

function frameNonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, NONCE_PREFIX);
  nonce.writeUInt8(last ? 1 : 0, 11);
  return nonce;
}

/** Seals frames of one object. */
class FrameSealer {
  private index = 0;
  constructor(
    private readonly dataKey: Buffer,
    private readonly header: Header,
  ) {}

  seal(plain: Buffer, last: boolean): Buffer {
    const cipher = createCipheriv(
      CIPHER,
      this.dataKey,
      frameNonce(this.header.noncePrefix, this.index++, last),
    );
    cipher.setAAD(this.header.bytes);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([body, cipher.getAuthTag()]);
  }
}

/** Opens frames of one object. */
class FrameOpener {
  private index = 0;
  constructor(
    private readonly dataKey: Buffer,
    private readonly header: Header,
    private readonly what: string,
  ) {}

  open(frame: Buffer, last: boolean): Buffer {
    if (frame.length < TAG) throw corrupt(this.what, 'it ends inside an encrypted chunk');
    const index = this.index++;
    const decipher = createDecipheriv(
      CIPHER,
      this.dataKey,
      frameNonce(this.header.noncePrefix, index, last),
    );
    decipher.setAAD(this.header.bytes);
    decipher.setAuthTag(frame.subarray(frame.length - TAG));
    try {
      return Buffer.concat([
        decipher.update(frame.subarray(0, frame.length - TAG)),
        decipher.final(),
      ]);
    } catch (cause) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `${this.what} is corrupt or truncated: encrypted chunk ${index} failed authentication`,
        { cause, details: { object: this.what, chunk: index } },
      );
    }
  }
}

/** Starts a new object: a fresh data key, wrapped by the master key. */
function newObject(master: MasterKey, chunkBytes: number): { sealer: FrameSealer; header: Buffer } {
  const keyId = Buffer.from(master.id, 'ascii');
  if (keyId.length === 0 || keyId.length > 255) {
    throw new BacktrackError('CONFIG_INVALID', 'an encryption key id must be 1 to 255 ASCII bytes');
  }
  if (chunkBytes < MIN_CHUNK || chunkBytes > MAX_CHUNK) {
    throw new BacktrackError('VALIDATION_FAILED', `chunk size ${chunkBytes} is out of range`);
  }
  const dataKey = randomBytes(DATA_KEY);
  const wrapIv = randomBytes(WRAP_IV);
  const prefix = Buffer.alloc(ENCRYPTION_MAGIC.length + 1 + keyId.length + 4);
  ENCRYPTION_MAGIC.copy(prefix, 0);
  prefix.writeUInt8(keyId.length, ENCRYPTION_MAGIC.length);
  keyId.copy(prefix, ENCRYPTION_MAGIC.length + 1);
  prefix.writeUInt32BE(chunkBytes, ENCRYPTION_MAGIC.length + 1 + keyId.length);
  const wrap = createCipheriv(CIPHER, master.key, wrapIv);
  // The wrapped key is bound to the key id and chunk size that precede it.
  wrap.setAAD(prefix);
  const wrappedKey = Buffer.concat([wrap.update(dataKey), wrap.final()]);
  const headerBytes = Buffer.concat([
    prefix,
    wrapIv,
    wrappedKey,
    wrap.getAuthTag(),
    randomBytes(NONCE_PREFIX),
  ]);
  const header = parseHeader(headerBytes, 'new object');
  if (!header) throw new BacktrackError('INTERNAL', 'encryption header did not parse');
  return { sealer: new FrameSealer(dataKey, header), header: headerBytes };
}

/** Unwraps the data key of an object with the keyring, or says clearly why it cannot. */
function unwrapDataKey(header: Header, keyring: Keyring, what: string): Buffer {
  const named = keyring.find(header.keyId);
  const candidate = named ?? keyring.current;
  if (!candidate) {
    throw new BacktrackError(
      'DECRYPTION_FAILED',
      `${what} is encrypted (key ${header.keyId}) and no key is configured: set BACKTRACK_ENCRYPTION_KEY to the key it was written with`,
      { details: { object: what, keyId: header.keyId } },
    );
  }
  const unwrap = createDecipheriv(CIPHER, candidate.key, header.wrapIv);
  unwrap.setAAD(
    header.bytes.subarray(0, header.bytes.length - WRAP_IV - DATA_KEY - TAG - NONCE_PREFIX),
  );
  unwrap.setAuthTag(header.wrapTag);
  try {
    return Buffer.concat([unwrap.update(header.wrappedKey), unwrap.final()]);
  } catch (cause) {
    const which =
      candidate.id === header.keyId
        ? `the configured key ${candidate.id} is not the key it was written with (or its header is corrupt)`
        : `it was written with key ${header.keyId}, and the configured key ${candidate.id} is another`;
    throw new BacktrackError(
      'DECRYPTION_FAILED',
      `cannot decrypt ${what}: ${which}; set BACKTRACK_ENCRYPTION_KEY (and BACKTRACK_ENCRYPTION_KEY_ID) to the key it was written with`,
      { cause, details: { object: what, keyId: header.keyId, configuredKeyId: candidate.id } },
    );
  }
}

/** Encrypts a whole object in memory. */
export function encrypt(
  plain: Buffer,
  master: MasterKey,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Buffer {
  const { sealer, header } = newObject(master, chunkBytes);
  const parts = [header];
  let at = 0;
  // The last frame is the one that ends the data, possibly empty; never a full frame left over.
  while (plain.length - at > chunkBytes) {
    parts.push(sealer.seal(plain.subarray(at, at + chunkBytes), false));
    at += chunkBytes;
  }
  parts.push(sealer.seal(plain.subarray(at), true));
  return Buffer.concat(parts);
}

/**
 * The plaintext of a stored object: decrypted when it is encrypted, as is otherwise.
 * DECRYPTION_FAILED without the right key; INTEGRITY_FAILED when a chunk was altered.
 */
export function decrypt(stored: Buffer, keyring: Keyring, what: string): Buffer {
  if (!isEncrypted(stored)) return stored;
  const header = parseHeader(stored, what);
  if (!header) throw corrupt(what, 'it ends inside its encryption header');
  const opener = new FrameOpener(unwrapDataKey(header, keyring, what), header, what);
  const frame = header.chunkBytes + TAG;
  const parts: Buffer[] = [];
  let at = header.bytes.length;
  while (stored.length - at > frame) {
    parts.push(opener.open(stored.subarray(at, at + frame), false));
    at += frame;
  }
  parts.push(opener.open(stored.subarray(at), true));
  return Buffer.concat(parts);
}

/** Accumulates chunks and hands out exact-size pieces without copying more than needed. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  take(n: number): Buffer {
    const [only] = this.chunks;
    const joined = this.chunks.length === 1 && only ? only : Buffer.concat(this.chunks);
    const piece = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return piece;
  }

  peek(): Buffer {
    const joined = Buffer.concat(this.chunks);
    this.chunks = joined.length > 0 ? [joined] : [];
    return joined;
  }
}

/** A stream that encrypts what passes through it, chunk by chunk (for large uploads). */
export function encryptingStream(master: MasterKey, chunkBytes = DEFAULT_CHUNK_BYTES): Transform {
  const { sealer, header } = newObject(master, chunkBytes);
  const pending = new ByteQueue();
  let headerSent = false;
  const sendHeader = (stream: Transform): void => {
    if (!headerSent) stream.push(header);
    headerSent = true;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      sendHeader(this);
      pending.push(chunk);
      while (pending.length > chunkBytes) this.push(sealer.seal(pending.take(chunkBytes), false));
      done();
    },
    flush(done: TransformCallback) {
      sendHeader(this);
      this.push(sealer.seal(pending.take(pending.length), true));
      done();
    },
  });
}

/**
 * A stream that decrypts an encrypted object as it arrives and passes a plain one through.
 * Each chunk is authenticated before it is released; a truncated or altered object makes
 * the stream fail with INTEGRITY_FAILED, a missing or wrong key with DECRYPTION_FAILED.
 */
export function decryptingStream(keyring: Keyring, what: string): Transform {
  const pending = new ByteQueue();
  // Undecided until the first bytes arrive; then plain (pass through) or an opener.
  let mode: 'detect' | 'plain' | { opener: FrameOpener; frame: number } = 'detect';
  const step = (stream: Transform, atEnd: boolean): void => {
    if (mode === 'detect') {
      if (pending.length < ENCRYPTION_MAGIC.length && !atEnd) return;
      const head = pending.peek();
      if (!isEncrypted(head)) {
        mode = 'plain';
      } else {
        const header = parseHeader(head, what);
        if (!header) {
          if (atEnd) throw corrupt(what, 'it ends inside its encryption header');
          return;
        }
        const opener = new FrameOpener(unwrapDataKey(header, keyring, what), header, what);
        pending.take(header.bytes.length);
        mode = { opener, frame: header.chunkBytes + TAG };
      }
    }
    if (mode === 'plain') {
      if (pending.length > 0) stream.push(pending.take(pending.length));
      return;
    }
    const { opener, frame } = mode;
    while (pending.length > frame) stream.push(opener.open(pending.take(frame), false));
    if (atEnd) stream.push(opener.open(pending.take(pending.length), true));
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      pending.push(chunk);
      try {
        step(this, false);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        step(this, true);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
}

/** The key id an encrypted object names, or undefined for a plain one. */
export function encryptionKeyIdOf(stored: Buffer): string | undefined {
  if (!isEncrypted(stored)) return undefined;
  return parseHeader(stored, 'object')?.keyId;
}
