/**
 * The control API under test: `startApiStack` (what `backtrack api` runs) on this test's
 * catalog, source schema, topics and object-storage prefix; bearer tokens signed with the
 * test secret; and a small HTTP client that keeps every answer's status for the "no 500"
 * checks.
 */
import { SignJWT } from 'jose';
import { z } from 'zod';

import { type ApiStack, type ApiStackSettings, startApiStack } from '../../../services/cli/api.js';
import type { Role } from '../../../services/control-api/index.js';
import { type Config, DEFAULT_RATE_LIMITS } from '../../../shared/config/index.js';
import type { Logger } from '../../../shared/logging.js';
import { catalogConfigFor, s3ConfigFor } from '../../support/archive.js';
import { kafkaConfigFor, sourceConfigFor } from '../../support/capture.js';
import type {
  CatalogFixture,
  KafkaFixture,
  S3Fixture,
  SourceFixture,
} from '../../support/fixtures.js';
import { TEST_SNAPSHOT } from '../../support/snapshot.js';
import { waitFor } from '../../support/wait-for.js';

/** The HS256 secret the test API verifies tokens with. */
export const JWT_SECRET = 'control-api-test-secret-0123456789abcdef';

/** A bearer token for `role` of `tenant` (no tenant: platform-admin), valid for an hour. */
export async function token(
  role: Role,
  tenant: string | undefined,
  options: { subject?: string; secret?: string; expiresAt?: number } = {},
): Promise<string> {
  return new SignJWT({ role, ...(tenant === undefined ? {} : { tenant_id: tenant }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.subject ?? `${role}-user`)
    .setIssuedAt()
    .setExpirationTime(options.expiresAt ?? Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

/** The fixtures an API stack is built from. */
export interface ApiFixtures {
  readonly source: SourceFixture;
  readonly catalog: CatalogFixture;
  readonly kafka: KafkaFixture;
  readonly s3: S3Fixture;
  readonly config: Config;
  readonly log: Logger;
}

/** Knobs of a test's API stack. */
export interface ApiOptions {
  /** Job workers of this instance (0: jobs stay queued). */
  readonly workers?: number;
  readonly leaseMs?: number;
  readonly schedulerIntervalMs?: number;
  readonly rateLimits?: Record<string, number>;
  readonly rateWindowSeconds?: number;
  readonly owner?: string;
  /** Verify tokens against this JWKS (with an issuer and audience) instead of the secret. */
  readonly jwks?: { readonly url: string; readonly issuer: string; readonly audience: string };
}

/** The settings `backtrack api` would read, pointed at this test's resources. */
export function apiSettings(f: ApiFixtures, options: ApiOptions = {}): ApiStackSettings {
  return {
    source: sourceConfigFor(f.source),
    catalog: catalogConfigFor(f.catalog),
    kafka: kafkaConfigFor(f.kafka, 3),
    s3: s3ConfigFor(f.config, f.s3),
    snapshot: TEST_SNAPSHOT,
    restore: f.config.restore,
    archiver: f.config.archiver,
    encryption: undefined,
    api: {
      host: '127.0.0.1',
      port: 0,
      jwtSecret: options.jwks ? undefined : JWT_SECRET,
      jwksUrl: options.jwks?.url,
      jwtIssuer: options.jwks?.issuer,
      jwtAudience: options.jwks?.audience,
      rateLimits: { ...DEFAULT_RATE_LIMITS, ...options.rateLimits },
      rateWindowSeconds: options.rateWindowSeconds ?? 3600,
      bodyLimitBytes: 1024 * 1024,
      maxTokenLifetimeSeconds: 86_400,
      minScheduleIntervalSeconds: 300,
      retentionDays: 30,
    },
    jobs: {
      workerConcurrency: options.workers ?? 1,
      leaseMs: options.leaseMs ?? 10_000,
      pollMs: 50,
      // Scheduler tests tick on their own; the others never wait for it.
      schedulerIntervalMs: options.schedulerIntervalMs ?? 3_600_000,
    },
    log: f.log,
    owner: options.owner,
  };
}

/** Starts the control API with its workers and scheduler, as `backtrack api` does. */
export function startApi(f: ApiFixtures, options: ApiOptions = {}): Promise<ApiStack> {
  return startApiStack(apiSettings(f, options));
}

/** One HTTP answer. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The JSON body, or undefined when it is not JSON. */
  readonly body: unknown;
}

/** A request. */
export interface ApiRequest {
  readonly token?: string;
  /** A JSON value, sent as application/json. */
  readonly json?: unknown;
  /** A raw body, sent as is with `contentType`. */
  readonly raw?: string;
  readonly contentType?: string;
  readonly query?: Record<string, string>;
  readonly requestId?: string;
}

/** An HTTP client of one API instance that remembers every status it saw. */
export interface ApiClient {
  readonly url: string;
  call(method: string, path: string, request?: ApiRequest): Promise<ApiResponse>;
  /** Every status answered so far. */
  readonly statuses: number[];
}

/** A client of the API at `url`. */
export function apiClient(url: string): ApiClient {
  const statuses: number[] = [];
  return {
    url,
    statuses,
    call: async (method, path, request = {}) => {
      const query = request.query ? `?${new URLSearchParams(request.query).toString()}` : '';
      const headers: Record<string, string> = {};
      if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
      if (request.requestId !== undefined) headers['x-request-id'] = request.requestId;
      let body: string | undefined;
      if (request.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(request.json);
      } else if (request.raw !== undefined) {
        headers['content-type'] = request.contentType ?? 'application/json';
        body = request.raw;
      }
      const response = await fetch(`${url}${path}${query}`, { method, headers, body });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      statuses.push(response.status);
      return { status: response.status, headers: response.headers, text, body: parsed };
    },
  };
}

/** Parses a response body with `schema`, with the body in the message when it does not fit. */
export function bodyOf<S extends z.ZodType>(response: ApiResponse, schema: S): z.output<S> {
  const parsed = schema.safeParse(response.body);
  if (!parsed.success)
    throw new Error(
      `unexpected answer ${response.status}: ${response.text.slice(0, 2000)} (${parsed.error.message})`,
    );
  return parsed.data;
}

/** A job as GET /v1/jobs/:id shows it (the parts tests read). */
export interface JobSeen {
  readonly status: string;
  readonly progress: unknown;
  readonly result: unknown;
  readonly error: { code: string; message: string } | null;
  readonly attempts: number;
}

/** The job of a `GET /v1/jobs/:id` answer. */
export const pickJob = (body: unknown): JobSeen =>
  z
    .object({
      job: z.object({
        status: z.string(),
        progress: z.unknown(),
        result: z.unknown(),
        error: z.object({ code: z.string(), message: z.string() }).nullable(),
        attempts: z.number(),
      }),
    })
    .parse(body).job;

/**
 * Polls a job until it completed or failed; returns it and every distinct (status,
 * progress) seen on the way.
 */
export async function awaitJob(
  api: ApiClient,
  bearer: string,
  path: string,
  pick: (body: unknown) => JobSeen,
  timeoutMs = 90_000,
): Promise<{ job: JobSeen; seen: JobSeen[] }> {
  const seen: JobSeen[] = [];
  const job = await waitFor(
    async () => {
      const response = await api.call('GET', path, { token: bearer });
      if (response.status !== 200) throw new Error(`GET ${path}: ${response.text}`);
      const current = pick(response.body);
      const last = seen.at(-1);
      if (
        !last ||
        last.status !== current.status ||
        JSON.stringify(last.progress) !== JSON.stringify(current.progress)
      )
        seen.push(current);
      return current.status === 'completed' || current.status === 'failed' ? current : undefined;
    },
    { timeoutMs, intervalMs: 25, what: `job ${path} to finish` },
  );
  return { job, seen };
}
