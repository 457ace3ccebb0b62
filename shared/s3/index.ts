/**
 * The narrow port to S3-compatible object storage. Keys given to an {@link ObjectStore} are
 * relative to its prefix, so a store for `tests/abc/` never sees another test's objects.
 * Every upload carries a SHA-256 the server verifies, and reports it back to the caller
 * for the catalog.
 *
 * The AWS SDK takes about 0.2 s to load, so it is loaded on a store's first call (client.ts):
 * a command that never touches storage (capture, unless a value needs a claim check) starts
 * without it.
 */
import type { Readable } from 'node:stream';

/** Where the store is and how to authenticate. */
export interface ObjectStoreOptions {
  readonly bucket: string;
  readonly endpoint?: string | undefined;
  readonly region: string;
  readonly credentials?:
    { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  readonly forcePathStyle?: boolean;
  /** Prefix of every key, empty or ending with '/'. */
  readonly prefix?: string;
}

/** An object as listed or inspected. */
export interface ObjectInfo {
  /** Key relative to the store's prefix. */
  readonly key: string;
  readonly size: number;
  readonly etag: string | undefined;
  readonly lastModified: Date | undefined;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The outcome of an upload. */
export interface UploadResult {
  readonly key: string;
  readonly size: number;
  /** Hex SHA-256 of the whole object. */
  readonly sha256: string;
  /** 1 for a single PUT. */
  readonly parts: number;
}

/** Options of a put or upload. */
export interface PutOptions {
  readonly contentType?: string;
  /** User metadata (x-amz-meta-*); ASCII keys and values. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Operations on one bucket under one prefix. */
export interface ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  /** A store for a sub-prefix (`sub` must end with '/'). */
  scoped(sub: string): ObjectStore;
  /** Lists the buckets the credentials can see: a cheap proof the server answers. */
  listBuckets(): Promise<string[]>;
  bucketExists(): Promise<boolean>;
  ensureBucket(): Promise<'created' | 'exists'>;
  /** One PUT, verified by the server against our SHA-256. */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<UploadResult>;
  /**
   * Streams `source` to `key`: a multipart upload in parts of `partSizeBytes` (at least
   * 5 MiB), at most two parts in memory, aborted on failure. Small sources become one PUT.
   */
  upload(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options?: PutOptions & { partSizeBytes?: number },
  ): Promise<UploadResult>;
  /** The whole object; STORAGE_NOT_FOUND when it does not exist. */
  get(key: string): Promise<Buffer>;
  /** The object as a stream (for large snapshots). */
  getStream(key: string): Promise<Readable>;
  /** Size, ETag and metadata; undefined when absent. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object under `prefix` (relative), page by page, in key order. */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  /** Deletes in batches of 1000; absent keys count as deleted. */
  deleteMany(
    keys: readonly string[],
  ): Promise<{ deleted: number; failed: { key: string; message: string }[] }>;
  destroy(): void;
}

/** A store for the bucket of `options`; the SDK loads, and connects, on its first call. */
export function createObjectStore(options: ObjectStoreOptions): ObjectStore {
  let store: Promise<ObjectStore> | undefined;
  const load = (): Promise<ObjectStore> =>
    (store ??= import('./client.js').then((client) => client.connectObjectStore(options)));
  return lazyStore(load, options.bucket, options.prefix ?? '', () => {
    void store?.then((loaded) => loaded.destroy());
  });
}

function lazyStore(
  load: () => Promise<ObjectStore>,
  bucket: string,
  prefix: string,
  destroy: () => void,
): ObjectStore {
  return {
    bucket,
    prefix,
    scoped: (sub) =>
      lazyStore(async () => (await load()).scoped(sub), bucket, `${prefix}${sub}`, destroy),
    listBuckets: async () => (await load()).listBuckets(),
    bucketExists: async () => (await load()).bucketExists(),
    ensureBucket: async () => (await load()).ensureBucket(),
    put: async (key, body, options) => (await load()).put(key, body, options),
    upload: async (key, source, options) => (await load()).upload(key, source, options),
    get: async (key) => (await load()).get(key),
    getStream: async (key) => (await load()).getStream(key),
    head: async (key) => (await load()).head(key),
    list: async function* (sub) {
      yield* (await load()).list(sub);
    },
    deleteMany: async (keys) => (await load()).deleteMany(keys),
    destroy,
  };
}
