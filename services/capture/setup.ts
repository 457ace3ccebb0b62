/**
 * `backtrack setup`: checks the source and makes it capturable, changing nothing else.
 * It plans first (what is wrong that it cannot fix, and what it would change), then applies
 * the plan: the schema history (shared/source/ddl-history.ts: a small table and two event
 * triggers that record each DDL on a captured table in the log), the publication and the
 * replica identities in one transaction, then the slot (which Postgres creates outside any
 * transaction that wrote). Running it again changes nothing.
 */
import type { SourceConfig } from '../../shared/config/index.js';
import { BacktrackError } from '../../shared/errors.js';
import {
  type PgPool,
  type Queryable,
  quoteIdent,
  quoteLiteral,
  quoteQualified,
} from '../../shared/pg/index.js';
import {
  DDL_HISTORY_QUALIFIED,
  DDL_HISTORY_SCHEMA,
  DDL_HISTORY_TABLE,
  DDL_HISTORY_VERSION,
  DDL_TRIGGER_DROP,
  DDL_TRIGGER_END,
  ddlBaselineSql,
  ddlHistoryInstallSql,
} from '../../shared/source/ddl-history.js';

/** One change setup makes. */
export interface SetupAction {
  readonly kind:
    | 'create-publication'
    | 'add-table'
    | 'drop-table'
    | 'publication-option'
    | 'replica-identity'
    | 'ddl-history'
    | 'ddl-baseline'
    | 'create-slot';
  /** What it is about, e.g. `app.orders`. */
  readonly target: string;
  /** The statement that makes the change. */
  readonly sql: string;
  /** A sentence for the operator. */
  readonly description: string;
}

/** What setup found and would do. */
export interface SetupPlan {
  readonly serverVersion: string;
  /** Captured tables, `schema.table`. */
  readonly tables: readonly string[];
  /** Tables in the captured schemas left out because they have no tenant column. */
  readonly skipped: readonly string[];
  /** Problems setup cannot fix, each with its fix. Non-empty means nothing is applied. */
  readonly refusals: readonly string[];
  /** What works less well than it could, and how to fix it; setup applies the plan anyway. */
  readonly warnings: readonly string[];
  /** Whether DDL on captured tables is recorded in the log (after the plan is applied). */
  readonly ddlHistory: boolean;
  readonly actions: readonly SetupAction[];
}

interface TableFacts {
  readonly schema: string;
  readonly name: string;
  readonly kind: string;
  readonly hasPrimaryKey: boolean;
  readonly hasTenantColumn: boolean;
  readonly replicaIdentity: string;
  readonly owned: boolean;
  /** Leaf partitions (for a partitioned table), which carry their own replica identity. */
  readonly partitions: readonly { schema: string; name: string; replicaIdentity: string }[];
}

function qualified(schema: string, name: string): string {
  return `${schema}.${name}`;
}

async function serverChecks(
  db: Queryable,
  refusals: string[],
): Promise<{ version: string; superuser: boolean; role: string }> {
  const result = await db.query(`
    SELECT current_setting('server_version') AS version,
           current_setting('server_version_num')::int AS version_num,
           current_setting('wal_level') AS wal_level,
           pg_encoding_to_char(d.encoding) AS encoding,
           r.rolname, r.rolsuper, r.rolreplication,
           has_database_privilege(current_database(), 'CREATE') AS can_create
      FROM pg_database d, pg_roles r
     WHERE d.datname = current_database() AND r.rolname = current_user`);
  const row = result.rows[0] ?? {};
  const version = String(row.version);
  if (Number(row.version_num) < 150000) {
    refusals.push(`PostgreSQL ${version} is too old: Backtrack needs 15 or newer`);
  }
  if (row.wal_level !== 'logical') {
    refusals.push(
      `wal_level is ${String(row.wal_level)}: set wal_level = logical in postgresql.conf and restart Postgres`,
    );
  }
  if (row.encoding !== 'UTF8') {
    refusals.push(`the database encoding is ${String(row.encoding)}: Backtrack needs UTF8`);
  }
  const role = String(row.rolname);
  if (row.rolsuper !== true && row.rolreplication !== true) {
    refusals.push(
      `role ${role} may not stream changes: ALTER ROLE ${quoteIdent(role)} REPLICATION`,
    );
  }
  if (row.rolsuper !== true && row.can_create !== true) {
    refusals.push(
      `role ${role} may not create a publication: GRANT CREATE ON DATABASE … TO ${quoteIdent(role)}`,
    );
  }
  return { version, superuser: row.rolsuper === true, role };
}

/** Whether the schema history is installed at this version, and whether its table exists. */
async function ddlHistoryState(db: Queryable): Promise<{ current: boolean; table: boolean }> {
  const result = await db.query(
    `SELECT to_regclass($1) IS NOT NULL AS table,
            COALESCE(obj_description(to_regclass($1), 'pg_class'), '') AS comment,
            (SELECT count(*)::int FROM pg_event_trigger
              WHERE evtname IN ($2, $3) AND evtenabled <> 'D') AS triggers`,
    [DDL_HISTORY_QUALIFIED, DDL_TRIGGER_END, DDL_TRIGGER_DROP],
  );
  const row = result.rows[0] ?? {};
  const table = row.table === true;
  const current =
    table &&
    String(row.comment).startsWith(`Backtrack schema history v${DDL_HISTORY_VERSION}:`) &&
    Number(row.triggers) === 2;
  return { current, table };
}

/** Qualified, quoted names as a regclass[] literal. */
function regclassArray(tables: readonly { schema: string; name: string }[]): string {
  return `ARRAY[${tables.map((t) => quoteLiteral(quoteQualified(t.schema, t.name))).join(', ')}]::regclass[]`;
}

async function tableFacts(db: Queryable, config: SourceConfig): Promise<TableFacts[]> {
  const listed = config.tables.length > 0;
  const result = await db.query(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
            EXISTS (SELECT 1 FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped) AS has_tenant,
            c.relreplident AS replica_identity,
            pg_has_role(current_user, c.relowner, 'USAGE') AS owned,
            COALESCE((SELECT json_agg(json_build_object('schema', pn.nspname, 'name', p.relname, 'replicaIdentity', p.relreplident))
                        FROM pg_partition_tree(c.oid) t
                        JOIN pg_class p ON p.oid = t.relid
                        JOIN pg_namespace pn ON pn.oid = p.relnamespace
                       WHERE t.isleaf AND p.oid <> c.oid), '[]'::json) AS partitions
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND (CASE WHEN $3 THEN (n.nspname || '.' || c.relname) = ANY ($1::text[])
                  ELSE n.nspname = ANY ($1::text[]) END)
      ORDER BY n.nspname, c.relname`,
    [listed ? [...config.tables] : [...config.schemas], config.tenantColumn, listed],
  );
  return result.rows.map((row) => ({
    schema: String(row.schema),
    name: String(row.name),
    kind: String(row.kind),
    hasPrimaryKey: row.has_pk === true,
    hasTenantColumn: row.has_tenant === true,
    replicaIdentity: String(row.replica_identity),
    owned: row.owned === true,
    partitions: Array.isArray(row.partitions)
      ? row.partitions.map((p: unknown) => {
          const part = p as Record<string, unknown>;
          return {
            schema: String(part.schema),
            name: String(part.name),
            replicaIdentity: String(part.replicaIdentity),
          };
        })
      : [],
  }));
}

/** Works out what setup would change; changes nothing. */
export async function planSetup(db: Queryable, config: SourceConfig): Promise<SetupPlan> {
  const refusals: string[] = [];
  const warnings: string[] = [];
  const server = await serverChecks(db, refusals);
  const facts = await tableFacts(db, config);

  if (config.tables.length > 0) {
    const found = new Set(facts.map((t) => qualified(t.schema, t.name)));
    for (const wanted of config.tables) {
      if (!found.has(wanted)) {
        refusals.push(
          `table ${wanted} does not exist: create it, or leave it out of BACKTRACK_CAPTURE_TABLES`,
        );
      }
    }
  }

  const captured: TableFacts[] = [];
  const skipped: string[] = [];
  for (const table of facts) {
    const name = qualified(table.schema, table.name);
    if (!table.hasTenantColumn) {
      if (config.tables.length > 0) {
        refusals.push(
          `table ${name} has no ${config.tenantColumn} column: add it, or leave the table out of BACKTRACK_CAPTURE_TABLES`,
        );
      } else {
        skipped.push(name);
      }
      continue;
    }
    if (!table.hasPrimaryKey) {
      refusals.push(
        `table ${name} has no primary key, so its rows cannot be told apart: ALTER TABLE ${quoteQualified(table.schema, table.name)} ADD PRIMARY KEY (…), or leave it out of the captured tables`,
      );
      continue;
    }
    captured.push(table);
  }
  if (facts.length > 0 && captured.length === 0 && refusals.length === 0) {
    refusals.push(
      `no table in ${config.schemas.join(', ')} has a ${config.tenantColumn} column: check BACKTRACK_CAPTURE_SCHEMAS and BACKTRACK_TENANT_COLUMN`,
    );
  }
  if (facts.length === 0 && config.tables.length === 0) {
    refusals.push(
      `schemas ${config.schemas.join(', ')} hold no tables: check BACKTRACK_CAPTURE_SCHEMAS`,
    );
  }

  const actions: SetupAction[] = [];
  const history = await ddlHistoryState(db);
  if (!history.current) {
    if (server.superuser) {
      actions.push({
        kind: 'ddl-history',
        target: DDL_HISTORY_QUALIFIED,
        sql: ddlHistoryInstallSql().join(';\n'),
        description: `install the schema history: table ${DDL_HISTORY_QUALIFIED} and event triggers ${DDL_TRIGGER_END} and ${DDL_TRIGGER_DROP}, which record each DDL on a captured table in the log, so restores build each table's columns as of T (added, dropped, renamed and retyped columns; new, renamed and dropped tables) whether or not a row changed after it`,
      });
    } else {
      warnings.push(
        `role ${server.role} is not a superuser, so the schema history cannot be installed (Postgres lets only superusers create event triggers): a schema change then reaches restores only with the first row change after it, and a renamed column or table loses the values written before the rename; run \`backtrack setup\` once as a superuser`,
      );
    }
  }
  const ddlHistory = history.current || server.superuser;
  await planPublication(db, config, captured, actions, refusals, ddlHistory);
  for (const table of captured) {
    const targets = table.kind === 'p' ? [table, ...table.partitions] : [table];
    for (const target of targets) {
      if (target.replicaIdentity === 'f') continue;
      const name = qualified(target.schema, target.name);
      if (!table.owned) {
        refusals.push(
          `table ${name} needs REPLICA IDENTITY FULL but is owned by another role: run setup as its owner`,
        );
        continue;
      }
      actions.push({
        kind: 'replica-identity',
        target: name,
        sql: `ALTER TABLE ${quoteQualified(target.schema, target.name)} REPLICA IDENTITY FULL`,
        description: `set REPLICA IDENTITY FULL on ${name} (old rows then carry every column, the tenant included)`,
      });
    }
  }
  if (ddlHistory && captured.length > 0) {
    // Each captured table's columns today, where the history does not say so already: the
    // names a later rename is compared with.
    const stale =
      !history.table ||
      Number(
        (
          await db.query(
            `SELECT count(*)::int AS n FROM (${ddlBaselineSql('SELECT 1', regclassArray(captured))}) t`,
          )
        ).rows[0]?.n,
      ) > 0;
    if (stale) {
      actions.push({
        kind: 'ddl-baseline',
        target: DDL_HISTORY_QUALIFIED,
        sql: ddlBaselineSql('INSERT', regclassArray(captured)),
        description: `record the columns of the captured tables in ${DDL_HISTORY_QUALIFIED} as they are now`,
      });
    }
  }
  await planSlot(db, config, actions, refusals);

  return {
    serverVersion: server.version,
    tables: captured.map((t) => qualified(t.schema, t.name)),
    skipped,
    refusals,
    warnings,
    ddlHistory,
    actions,
  };
}

async function planPublication(
  db: Queryable,
  config: SourceConfig,
  captured: readonly TableFacts[],
  actions: SetupAction[],
  refusals: string[],
  ddlHistory: boolean,
): Promise<void> {
  const publication = config.publication;
  const quoted = quoteIdent(publication);
  const existing = await db.query(
    `SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot FROM pg_publication WHERE pubname = $1`,
    [publication],
  );
  // The schema history travels with the data, in the same publication.
  const members = [
    ...captured.map((t) => ({ schema: t.schema, name: t.name })),
    ...(ddlHistory ? [{ schema: DDL_HISTORY_SCHEMA, name: DDL_HISTORY_TABLE }] : []),
  ];
  const wanted = members.map((t) => qualified(t.schema, t.name));
  const row = existing.rows[0];
  if (!row) {
    if (captured.length === 0) return;
    actions.push({
      kind: 'create-publication',
      target: publication,
      sql: `CREATE PUBLICATION ${quoted} FOR TABLE ${members.map((t) => quoteQualified(t.schema, t.name)).join(', ')} WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`,
      description: `create publication ${publication} for ${captured.length} table(s)${ddlHistory ? ' and the schema history' : ''}`,
    });
    return;
  }
  if (row.puballtables === true) {
    refusals.push(
      `publication ${publication} is FOR ALL TABLES; Backtrack keeps its own table list: drop it or set BACKTRACK_CAPTURE_PUBLICATION`,
    );
    return;
  }
  if (
    !(row.pubinsert && row.pubupdate && row.pubdelete && row.pubtruncate) ||
    row.pubviaroot !== true
  ) {
    actions.push({
      kind: 'publication-option',
      target: publication,
      sql: `ALTER PUBLICATION ${quoted} SET (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`,
      description: `make publication ${publication} publish inserts, updates, deletes and truncates, under the partition root`,
    });
  }
  const published = await db.query(
    `SELECT schemaname || '.' || tablename AS name, schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`,
    [publication],
  );
  const present = new Map(published.rows.map((m) => [String(m.name), m]));
  for (const table of members) {
    const name = qualified(table.schema, table.name);
    if (present.has(name)) continue;
    actions.push({
      kind: 'add-table',
      target: name,
      sql: `ALTER PUBLICATION ${quoted} ADD TABLE ${quoteQualified(table.schema, table.name)}`,
      description: `add ${name} to publication ${publication}`,
    });
  }
  const wantedSet = new Set(wanted);
  for (const [name, member] of present) {
    if (wantedSet.has(name)) continue;
    actions.push({
      kind: 'drop-table',
      target: name,
      sql: `ALTER PUBLICATION ${quoted} DROP TABLE ${quoteQualified(String(member.schemaname), String(member.tablename))}`,
      description: `remove ${name} from publication ${publication} (no longer captured)`,
    });
  }
}

async function planSlot(
  db: Queryable,
  config: SourceConfig,
  actions: SetupAction[],
  refusals: string[],
): Promise<void> {
  const slot = await db.query(
    `SELECT plugin, slot_type, database = current_database() AS same_database FROM pg_replication_slots WHERE slot_name = $1`,
    [config.slot],
  );
  const row = slot.rows[0];
  if (row) {
    if (row.plugin !== 'pgoutput' || row.slot_type !== 'logical' || row.same_database !== true) {
      refusals.push(
        `replication slot ${config.slot} exists but is not a pgoutput slot of this database: drop it or set BACKTRACK_CAPTURE_SLOT`,
      );
    }
    return;
  }
  const room = await db.query(
    `SELECT (SELECT count(*) FROM pg_replication_slots)::int AS used, current_setting('max_replication_slots')::int AS max`,
  );
  const { used, max } = room.rows[0] ?? {};
  if (Number(used) >= Number(max)) {
    refusals.push(
      `all ${String(max)} replication slots are in use: raise max_replication_slots or drop an unused slot`,
    );
    return;
  }
  actions.push({
    kind: 'create-slot',
    target: config.slot,
    sql: `SELECT pg_create_logical_replication_slot(${quoteLiteral(config.slot)}, 'pgoutput')`,
    description: `create logical replication slot ${config.slot} (pgoutput); it retains WAL from now until capture confirms it`,
  });
}

/**
 * Applies a plan. Refuses a plan with refusals. The publication and replica identity
 * changes commit together or not at all; the slot is created afterwards.
 */
export async function applySetup(pool: PgPool, plan: SetupPlan): Promise<void> {
  if (plan.refusals.length > 0) {
    throw new BacktrackError(
      'SOURCE_NOT_READY',
      `setup refused:\n  ${plan.refusals.join('\n  ')}`,
      {
        details: { refusals: plan.refusals },
      },
    );
  }
  const ddl = plan.actions.filter((a) => a.kind !== 'create-slot');
  if (ddl.length > 0) {
    await pool.transaction(async (session) => {
      // The schema history and event triggers are shared by every capture of the database:
      // setups running at once install them one after the other.
      if (ddl.some((a) => a.kind === 'ddl-history' || a.kind === 'ddl-baseline'))
        await session.query(`SELECT pg_advisory_xact_lock(hashtextextended('backtrack:setup', 0))`);
      for (const action of ddl) await session.query(action.sql);
    });
  }
  for (const action of plan.actions.filter((a) => a.kind === 'create-slot')) {
    await pool.query(action.sql);
  }
}
