/**
 * The API's OpenAPI document (GET /docs/json) as the fuzz test reads it: every operation
 * with its path and query parameters and its JSON body, each with the JSON Schema the
 * server validates it by. The document arrives as `unknown` and is parsed here; a construct
 * the generators do not understand ($ref, oneOf, allOf, another media type) fails the
 * parse, so a change of the document cannot silently shrink what the fuzzer sends.
 */
import { z } from 'zod';

/** The part of JSON Schema the control API's request schemas use. */
export interface JsonSchema {
  readonly type?: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';
  readonly enum?: readonly unknown[];
  readonly format?: string;
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean;
  readonly anyOf?: readonly JsonSchema[];
  readonly nullable?: boolean;
  readonly description?: string;
}

const jsonSchema: z.ZodType<JsonSchema> = z.lazy(() =>
  z
    .object({
      type: z.enum(['string', 'integer', 'number', 'boolean', 'object', 'array', 'null']),
      enum: z.array(z.unknown()),
      format: z.string(),
      pattern: z.string(),
      minLength: z.number(),
      maxLength: z.number(),
      minimum: z.number(),
      maximum: z.number(),
      items: jsonSchema,
      minItems: z.number(),
      maxItems: z.number(),
      properties: z.record(z.string(), jsonSchema),
      required: z.array(z.string()),
      additionalProperties: z.boolean(),
      anyOf: z.array(jsonSchema),
      nullable: z.boolean(),
      description: z.string(),
      default: z.unknown(),
      // Keywords the generators cannot honour: refuse the document instead of guessing.
      $ref: z.never(),
      oneOf: z.never(),
      allOf: z.never(),
      not: z.never(),
    })
    .partial(),
);

const parameter = z.object({
  in: z.enum(['path', 'query']),
  name: z.string().min(1),
  required: z.boolean().default(false),
  schema: jsonSchema,
});

const operation = z.object({
  parameters: z.array(parameter).default([]),
  requestBody: z
    .object({
      required: z.boolean().default(false),
      content: z.strictObject({ 'application/json': z.object({ schema: jsonSchema }) }),
    })
    .optional(),
  /** `[]` marks a public operation; absent, the document's global bearer requirement holds. */
  security: z.array(z.unknown()).optional(),
});

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const document = z.object({
  paths: z.record(z.string(), z.partialRecord(z.enum(METHODS), operation)),
});

/** One parameter of an operation. */
export interface Parameter {
  readonly in: 'path' | 'query';
  readonly name: string;
  readonly required: boolean;
  readonly schema: JsonSchema;
}

/** One operation of the document. */
export interface Operation {
  readonly method: string;
  /** The path template as the document writes it, e.g. `/v1/schedules/{id}`. */
  readonly route: string;
  readonly parameters: readonly Parameter[];
  /** The JSON body's schema, if the operation takes one. */
  readonly body: JsonSchema | undefined;
  readonly bodyRequired: boolean;
  readonly public: boolean;
}

/** The operations of an OpenAPI document; throws when it holds what the fuzzer cannot read. */
export function operationsOf(doc: unknown): Operation[] {
  const parsed = document.parse(doc);
  const out: Operation[] = [];
  for (const [route, methods] of Object.entries(parsed.paths)) {
    for (const method of METHODS) {
      const op = methods[method];
      if (op === undefined) continue;
      out.push({
        method: method.toUpperCase(),
        route,
        parameters: op.parameters,
        body: op.requestBody?.content['application/json'].schema,
        bodyRequired: op.requestBody?.required ?? false,
        public: op.security !== undefined && op.security.length === 0,
      });
    }
  }
  return out;
}
