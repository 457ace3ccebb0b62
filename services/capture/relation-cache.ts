/**
 * Relation messages → relation versions. pgoutput sends a Relation message before the
 * first change of a table in a session and again after DDL; each becomes the column set
 * carried by later events of that table, with type names and primary-key columns looked
 * up once in the source catalog.
 */
import { BacktrackError } from '../../shared/errors.js';
import {
  type EventColumn,
  relationVersionOf,
  type RelationVersion,
} from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging.js';
import type { PgoutputMessage, Queryable, ReplicaIdentity } from '../../shared/pg/index.js';

type RelationMessage = Extract<PgoutputMessage, { tag: 'relation' }>;
type TypeMessage = Extract<PgoutputMessage, { tag: 'type' }>;

/** A captured table as of its latest Relation message. */
export interface CapturedRelation {
  readonly schema: string;
  readonly table: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly version: RelationVersion;
  /** Per column: part of the replica identity as pgoutput flags it. */
  readonly identityColumns: readonly boolean[];
  /** Index of the tenant column, or -1 when the table has none. */
  readonly tenantIndex: number;
}

/** What the source catalog says about a relation's columns. */
export interface RelationFacts {
  /** `format_type(oid, typmod)` per column, in order. */
  readonly typeNames: readonly string[];
  /** Names of the primary-key columns; undefined when the relation is gone from the catalog. */
  readonly primaryKey: ReadonlySet<string> | undefined;
  /** Missing values (`attmissingval`) of columns added with a constant default, by name. */
  readonly missing: ReadonlyMap<string, string>;
}

/** Looks relation facts up in the source database. */
export interface RelationLookup {
  describe(
    relationOid: number,
    columns: readonly { readonly typeOid: number; readonly typeMod: number }[],
  ): Promise<RelationFacts>;
}

/** Relation versions by OID, learnt from the stream. */
export class RelationCache {
  private readonly relations = new Map<number, CapturedRelation>();
  private readonly customTypes = new Map<number, string>();

  constructor(
    private readonly lookup: RelationLookup,
    private readonly tenantColumn: string,
    private readonly log: Logger,
  ) {}

  /** Records a Type message (a non-built-in type used by a later Relation). */
  learnType(message: TypeMessage): void {
    this.customTypes.set(message.typeOid, `${message.schema}.${message.name}`);
  }

  /**
   * Records a Relation message and returns the relation version it defines; `changed` when
   * this session had not seen the table before or its column set differs (DDL).
   */
  async learn(message: RelationMessage): Promise<{ relation: CapturedRelation; changed: boolean }> {
    const facts = await this.lookup.describe(message.relationOid, message.columns);
    if (facts.primaryKey === undefined) {
      this.log.warn(
        { schema: message.schema, table: message.name },
        'relation no longer in the source catalog; its replica identity stands in for the primary key',
      );
    }
    const columns: EventColumn[] = message.columns.map((column, i) => ({
      name: column.name,
      typeOid: column.typeOid,
      typeName:
        facts.typeNames[i] ?? this.customTypes.get(column.typeOid) ?? String(column.typeOid),
      typeMod: column.typeMod,
      primaryKey: facts.primaryKey ? facts.primaryKey.has(column.name) : column.isKey,
      missing: facts.missing.get(column.name) ?? null,
    }));
    const relation: CapturedRelation = {
      schema: message.schema,
      table: message.name,
      replicaIdentity: message.replicaIdentity,
      version: {
        oid: message.relationOid,
        version: relationVersionOf(message.schema, message.name, columns),
        columns,
      },
      identityColumns: message.columns.map((c) => c.isKey),
      tenantIndex: message.columns.findIndex((c) => c.name === this.tenantColumn),
    };
    const previous = this.relations.get(message.relationOid);
    if (previous && previous.version.version !== relation.version.version) {
      this.log.info(
        { schema: relation.schema, table: relation.table, version: relation.version.version },
        'relation changed',
      );
    }
    if (relation.replicaIdentity !== 'full') {
      this.log.warn(
        {
          schema: relation.schema,
          table: relation.table,
          replicaIdentity: relation.replicaIdentity,
        },
        'replica identity is not FULL: old rows arrive incomplete; run `backtrack setup`',
      );
    }
    this.relations.set(message.relationOid, relation);
    return { relation, changed: previous?.version.version !== relation.version.version };
  }

  /** The relation of a change; a change before its Relation message is a protocol violation. */
  get(relationOid: number): CapturedRelation {
    const relation = this.relations.get(relationOid);
    if (!relation) {
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `change for relation ${relationOid} arrived before its Relation message`,
      );
    }
    return relation;
  }
}

/** Looks relation facts up in the source catalog (one round trip per Relation message). */
export function sourceRelationLookup(db: Queryable): RelationLookup {
  return {
    describe: async (relationOid, columns) => {
      const result = await db.query(
        `WITH cols AS (
           SELECT t.oid, t.mod, t.n FROM unnest($2::oid[], $3::int[]) WITH ORDINALITY AS t(oid, mod, n))
         SELECT
           (SELECT array_agg(format_type(c.oid, c.mod) ORDER BY c.n) FROM cols c) AS type_names,
           (SELECT array_agg(a.attname::text)
              FROM pg_index i
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
             WHERE i.indrelid = $1 AND i.indisprimary) AS primary_key,
           EXISTS (SELECT 1 FROM pg_class WHERE oid = $1) AS relation_exists,
           (SELECT json_object_agg(a.attname, (a.attmissingval::text::text[])[1])
              FROM pg_attribute a
             WHERE a.attrelid = $1 AND a.atthasmissing AND NOT a.attisdropped) AS missing`,
        [relationOid, columns.map((c) => c.typeOid), columns.map((c) => c.typeMod)],
      );
      const row = result.rows[0];
      const strings = (value: unknown): string[] =>
        Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
      const missing = new Map<string, string>();
      const raw: unknown = row?.missing;
      if (typeof raw === 'object' && raw !== null) {
        for (const [name, value] of Object.entries(raw))
          if (typeof value === 'string') missing.set(name, value);
      }
      return {
        typeNames: strings(row?.type_names),
        primaryKey: row?.relation_exists === true ? new Set(strings(row.primary_key)) : undefined,
        missing,
      };
    },
  };
}
