/** The ObjectStore on the AWS SDK's S3 client. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

import { BacktrackError } from '../errors.js';

import type { ObjectStore, ObjectStoreOptions, PutOptions, UploadResult } from './index.js';

const MIN_PART = 5 * 1024 * 1024;
const DEFAULT_PART = 8 * 1024 * 1024;
const DELETE_BATCH = 1000;

function sha256Base64(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

function errorName(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const name: unknown = (e as Record<string, unknown>).name;
  return typeof name === 'string' ? name : undefined;
}

function httpStatus(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const metadata: unknown = (e as Record<string, unknown>).$metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const status: unknown = (metadata as Record<string, unknown>).httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function isNotFound(e: unknown): boolean {
  const name = errorName(e);
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatus(e) === 404;
}

/** Turns an SDK error into one that names the bucket, the key and what to check. */
function storageError(e: unknown, bucket: string, what: string): BacktrackError {
  const name = errorName(e) ?? 'Error';
  const status = httpStatus(e);
  const reason = e instanceof Error ? e.message : String(e);
  if (name === 'NoSuchBucket') {
    return new BacktrackError(
      'STORAGE_NOT_FOUND',
      `bucket ${bucket} does not exist; create it or fix BACKTRACK_S3_BUCKET`,
      { cause: e, details: { bucket } },
    );
  }
  if (
    name === 'InvalidAccessKeyId' ||
    name === 'SignatureDoesNotMatch' ||
    name === 'AccessDenied' ||
    status === 403
  ) {
    return new BacktrackError(
      'CONFIG_INVALID',
      `object storage refused ${what} in bucket ${bucket} (${name}); check BACKTRACK_S3_ACCESS_KEY_ID and BACKTRACK_S3_SECRET_ACCESS_KEY`,
      { cause: e, details: { bucket, status } },
    );
  }
  const retriable = status === undefined || status >= 500 || status === 429;
  return new BacktrackError(
    retriable ? 'STORAGE_UNAVAILABLE' : 'INTERNAL',
    `object storage failed on ${what} in bucket ${bucket}: ${name}: ${reason}`,
    { cause: e, retriable, details: { bucket, status } },
  );
}

/** Reads `source` into chunks of exactly `size` bytes (the last may be shorter). */
async function* rechunk(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of source) {
    let piece = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (pendingBytes + piece.length >= size) {
      const take = size - pendingBytes;
      pending.push(piece.subarray(0, take));
      yield Buffer.concat(pending, size);
      pending = [];
      pendingBytes = 0;
      piece = piece.subarray(take);
    }
    if (piece.length > 0) {
      // Copy: the producer may reuse its buffer after we return control.
      pending.push(Buffer.from(piece));
      pendingBytes += piece.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** Creates a store. Nothing is sent until the first call. */
/** A store on a new SDK client (index.ts loads this module on a store's first call). */
export function connectObjectStore(options: ObjectStoreOptions): ObjectStore {
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    credentials: options.credentials
      ? {
          accessKeyId: options.credentials.accessKeyId,
          secretAccessKey: options.credentials.secretAccessKey,
        }
      : undefined,
    // We send our own SHA-256 on every upload; no second checksum of the SDK's choosing.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    // A server that accepts connections but never answers must not hang us for ever.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
  return storeFor(client, options.bucket, options.prefix ?? '');
}

function storeFor(client: S3Client, bucket: string, prefix: string): ObjectStore {
  const full = (key: string): string => `${prefix}${key}`;
  const relative = (key: string): string =>
    key.startsWith(prefix) ? key.slice(prefix.length) : key;
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      throw storageError(e, bucket, what);
    }
  };

  const put = async (
    key: string,
    body: Uint8Array,
    options: PutOptions = {},
  ): Promise<UploadResult> => {
    const checksum = sha256Base64(body);
    await call(`PUT ${full(key)}`, () =>
      client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: full(key),
          Body: body,
          ContentLength: body.byteLength,
          ContentType: options.contentType ?? 'application/octet-stream',
          ChecksumSHA256: checksum,
          Metadata: options.metadata ? { ...options.metadata } : undefined,
        }),
      ),
    );
    return {
      key,
      size: body.byteLength,
      sha256: Buffer.from(checksum, 'base64').toString('hex'),
      parts: 1,
    };
  };

  const upload: ObjectStore['upload'] = async (key, source, options = {}) => {
    const partSize = Math.max(MIN_PART, options.partSizeBytes ?? DEFAULT_PART);
    const whole = createHash('sha256');
    const chunks = rechunk(source, partSize)[Symbol.asyncIterator]();
    const first = await chunks.next();
    if (first.done) return put(key, new Uint8Array(0), options);
    const second = await chunks.next();
    if (second.done) return put(key, first.value, options);

    const created = await call(`create multipart upload ${full(key)}`, () =>
      client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: full(key),
          ContentType: options.contentType ?? 'application/octet-stream',
          Metadata: options.metadata ? { ...options.metadata } : undefined,
        }),
      ),
    );
    const uploadId = created.UploadId;
    if (!uploadId)
      throw new BacktrackError('STORAGE_UNAVAILABLE', 'object storage returned no upload id');

    const parts: { PartNumber: number; ETag: string | undefined }[] = [];
    let size = 0;
    const sendPart = async (partNumber: number, body: Buffer): Promise<void> => {
      const result = await call(`upload part ${partNumber} of ${full(key)}`, () =>
        client.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: full(key),
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
            ContentMD5: createHash('md5').update(body).digest('base64'),
          }),
        ),
      );
      parts[partNumber - 1] = { PartNumber: partNumber, ETag: result.ETag };
    };

    try {
      // One part uploads while the next is read: at most two parts in memory.
      let inFlight: Promise<void> | undefined;
      let partNumber = 0;
      const queue = async (body: Buffer): Promise<void> => {
        whole.update(body);
        size += body.length;
        partNumber += 1;
        await inFlight;
        inFlight = sendPart(partNumber, body);
      };
      await queue(first.value);
      await queue(second.value);
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        await queue(next.value);
      }
      await inFlight;
      await call(`complete multipart upload ${full(key)}`, () =>
        client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: full(key),
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
      );
    } catch (e) {
      // Leave no half upload behind (it would be billed and never visible).
      await client
        .send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: full(key), UploadId: uploadId }),
        )
        .catch(() => undefined);
      throw e;
    }
    return { key, size, sha256: whole.digest('hex'), parts: parts.length };
  };

  const getStream = async (key: string): Promise<Readable> => {
    try {
      const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
      if (!result.Body)
        throw new BacktrackError('STORAGE_UNAVAILABLE', `GET ${full(key)} returned no body`);
      return result.Body as Readable;
    } catch (e) {
      if (e instanceof BacktrackError) throw e;
      if (isNotFound(e) && errorName(e) !== 'NoSuchBucket') {
        throw new BacktrackError(
          'STORAGE_NOT_FOUND',
          `object ${full(key)} is not in bucket ${bucket}`,
          {
            cause: e,
            details: { bucket, key: full(key) },
          },
        );
      }
      throw storageError(e, bucket, `GET ${full(key)}`);
    }
  };

  return {
    bucket,
    prefix,
    scoped: (sub) => {
      if (!sub.endsWith('/')) throw new TypeError(`a sub-prefix must end with '/': ${sub}`);
      return storeFor(client, bucket, full(sub));
    },
    listBuckets: () =>
      call('list buckets', async () => {
        const result = await client.send(new ListBucketsCommand({}));
        return (result.Buckets ?? []).flatMap((b) => (b.Name ? [b.Name] : []));
      }),
    bucketExists: async () => {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        throw storageError(e, bucket, 'HEAD bucket');
      }
    },
    ensureBucket: async () => {
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        return 'created';
      } catch (e) {
        const name = errorName(e);
        if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return 'exists';
        throw storageError(e, bucket, 'create bucket');
      }
    },
    put,
    upload,
    get: async (key) => {
      const stream = await getStream(key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    getStream,
    head: async (key) => {
      try {
        const result = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: full(key) }));
        return {
          key,
          size: result.ContentLength ?? 0,
          etag: result.ETag,
          lastModified: result.LastModified,
          metadata: result.Metadata ?? {},
        };
      } catch (e) {
        if (isNotFound(e) && errorName(e) !== 'NoSuchBucket') return undefined;
        throw storageError(e, bucket, `HEAD ${full(key)}`);
      }
    },
    list: async function* (sub = '') {
      let token: string | undefined;
      do {
        const page = await call(`list ${full(sub)}`, () =>
          client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: full(sub),
              ContinuationToken: token,
            }),
          ),
        );
        for (const item of page.Contents ?? []) {
          if (!item.Key) continue;
          yield {
            key: relative(item.Key),
            size: item.Size ?? 0,
            etag: item.ETag,
            lastModified: item.LastModified,
          };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    deleteMany: async (keys) => {
      let deleted = 0;
      const failed: { key: string; message: string }[] = [];
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        const batch = keys.slice(i, i + DELETE_BATCH);
        const result = await call(`delete ${batch.length} objects`, () =>
          client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: batch.map((key) => ({ Key: full(key) })), Quiet: true },
            }),
          ),
        );
        const errors = result.Errors ?? [];
        for (const error of errors) {
          failed.push({
            key: relative(error.Key ?? ''),
            message: error.Message ?? error.Code ?? 'unknown',
          });
        }
        deleted += batch.length - errors.length;
      }
      return { deleted, failed };
    },
    destroy: () => client.destroy(),
  };
}
