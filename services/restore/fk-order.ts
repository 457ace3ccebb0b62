/**
 * The order tables are loaded in (parents before children) and emptied in (children
 * first), from their foreign keys. A cycle whose constraints are all deferrable is loaded
 * with constraints deferred to commit; any other cycle is refused with its tables named.
 */

/** A foreign key between two restored tables (qualified names). */
export interface ForeignKey {
  readonly name: string;
  /** The referencing table. */
  readonly child: string;
  /** The referenced table. */
  readonly parent: string;
  readonly deferrable: boolean;
}

/** The load plan. */
export interface LoadOrder {
  /** Parents before children; tables of a deferrable cycle adjacent, in name order. */
  readonly load: readonly string[];
  /** Children before parents: the order to delete in. */
  readonly empty: readonly string[];
  /** Cycles loaded with their constraints deferred to commit. */
  readonly deferredCycles: readonly (readonly string[])[];
  /** Cycles that cannot be loaded (a constraint in them is not deferrable). */
  readonly refusedCycles: readonly (readonly string[])[];
}

/** Strongly connected components (Tarjan), each sorted by name. */
function components(
  tables: readonly string[],
  edges: ReadonlyMap<string, readonly string[]>,
): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, indices.get(w) ?? 0));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
        onStack.delete(w);
        component.push(w);
        if (w === v) break;
      }
      result.push(component.sort());
    }
  };
  for (const table of [...tables].sort()) if (!indices.has(table)) visit(table);
  return result;
}

/** Components in dependency order (Kahn), ties broken by name so the order is stable. */
function topological(
  parts: readonly string[][],
  edges: ReadonlyMap<string, readonly string[]>,
): string[][] {
  const componentOf = new Map<string, number>();
  parts.forEach((part, i) => part.forEach((table) => componentOf.set(table, i)));
  const incoming = parts.map(() => new Set<number>());
  for (const [parent, children] of edges) {
    const from = componentOf.get(parent) ?? -1;
    for (const child of children) {
      const to = componentOf.get(child) ?? -1;
      if (from !== to && from >= 0 && to >= 0) incoming[to]?.add(from);
    }
  }
  const result: string[][] = [];
  const done = new Set<number>();
  while (done.size < parts.length) {
    const ready = parts
      .map((part, i) => ({ part, i }))
      .filter(({ i }) => !done.has(i) && [...(incoming[i] ?? [])].every((j) => done.has(j)))
      .sort((a, b) => (a.part[0] ?? '').localeCompare(b.part[0] ?? ''));
    const next = ready[0];
    if (!next) break;
    done.add(next.i);
    result.push(next.part);
  }
  return result;
}

/** Orders `tables` by the foreign keys among them (keys to other tables are ignored). */
export function loadOrder(
  tables: readonly string[],
  foreignKeys: readonly ForeignKey[],
): LoadOrder {
  const set = new Set(tables);
  const relevant = foreignKeys.filter((fk) => set.has(fk.child) && set.has(fk.parent));
  // Edge parent → child: a parent loads first.
  const edges = new Map<string, string[]>();
  for (const fk of relevant) {
    if (fk.child === fk.parent) continue;
    edges.set(fk.parent, [...(edges.get(fk.parent) ?? []), fk.child]);
  }
  const ordered = topological(components(tables, edges), edges);
  const deferredCycles: string[][] = [];
  const refusedCycles: string[][] = [];
  for (const component of ordered) {
    if (component.length < 2) continue;
    const members = new Set(component);
    const inside = relevant.filter((fk) => members.has(fk.child) && members.has(fk.parent));
    (inside.every((fk) => fk.deferrable) ? deferredCycles : refusedCycles).push(component);
  }
  // A table that references itself needs nothing: the checks of a COPY run at the end of
  // the statement, when all its rows are in.
  const load = ordered.flat();
  return { load, empty: [...load].reverse(), deferredCycles, refusedCycles };
}
