/**
 * How the Salesforce sandbox processes one ingest job's rows against its record store: header
 * checks that fail the whole job, then each row checked and written, as the org would.
 *
 * @module
 */
import {
  checkFieldValue,
  formatRowError,
  requiredMissing,
  type RowError,
  type SalesforceField,
  type SalesforceObject,
} from "./_salesforce_objects.ts";

/** A job's operation. */
export type SalesforceOperation = "insert" | "update" | "upsert" | "delete" | "hardDelete";

/** A record in the store. */
export interface StoredRecord {
  id: string;
  /** Field values by API name; absent means null. */
  fields: Map<string, string>;
  /** Successful writes (the create counts as one). */
  writes: number;
}

/** One object's records, with an index of its External ID values and their write counts. */
export interface ObjectStore {
  byId: Map<string, StoredRecord>;
  /** External ID field name → lower-cased value → record id (External IDs are case-insensitive). */
  byExternal: Map<string, Map<string, string>>;
  /** External ID field name → value as written → successful writes of a row with that value. */
  externalWrites: Map<string, Map<string, number>>;
}

/** What became of one processed row. */
export type RowOutcome =
  | { kind: "success"; row: string[]; id: string; created: boolean }
  | { kind: "failed"; row: string[]; id: string; error: string };

/** What a job processes. */
export interface JobWork {
  object: SalesforceObject;
  operation: SalesforceOperation;
  externalIdFieldName: string | undefined;
  header: string[];
}

/** A new, empty store for an object. */
export function emptyStore(object: SalesforceObject): ObjectStore {
  const external = object.fields.filter((f) => f.externalId).map((f) => f.name);
  return {
    byId: new Map(),
    byExternal: new Map(external.map((f) => [f, new Map()])),
    externalWrites: new Map(external.map((f) => [f, new Map()])),
  };
}

/** The `errorMessage` of a job whose header cannot be used, or `undefined` when it can. */
export function checkHeader(work: JobWork): string | undefined {
  const seen = new Set<string>();
  for (const name of work.header) {
    const field = work.object.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
    if (!field) return `InvalidBatch : Field name not found : ${name}`;
    if (seen.has(field.name)) return `InvalidBatch : Duplicate field name : ${name}`;
    seen.add(field.name);
  }
  const key = work.operation === "upsert" ? work.externalIdFieldName! : "Id";
  if (work.operation !== "insert" && !seen.has(key)) {
    return `InvalidBatch : Field name not provided : ${key}`;
  }
  return undefined;
}

/** Upsert keys that appear on more than one of these rows (lower-cased). */
function duplicateKeys(work: JobWork, rows: readonly string[][]): Set<string> {
  const dup = new Set<string>();
  if (work.operation !== "upsert") return dup;
  const at = columnOf(work, work.externalIdFieldName!);
  const seen = new Set<string>();
  for (const row of rows) {
    const key = (row[at] ?? "").toLowerCase();
    if (key === "") continue;
    if (seen.has(key)) dup.add(key);
    seen.add(key);
  }
  return dup;
}

function columnOf(work: JobWork, name: string): number {
  return work.header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
}

/**
 * Processes rows in order against the store and returns one outcome each. The header must have
 * passed {@linkcode checkHeader}.
 */
export function processRows(
  store: ObjectStore,
  work: JobWork,
  rows: readonly string[][],
  nextId: () => string,
): RowOutcome[] {
  const dup = duplicateKeys(work, rows);
  const fields = work.header.map((h) =>
    work.object.fields.find((f) => f.name.toLowerCase() === h.toLowerCase())!
  );
  return rows.map((row) => {
    const given = row[columnOf(work, "Id")] ?? "";
    const fail = (e: RowError): RowOutcome => ({
      kind: "failed",
      row,
      id: given,
      error: formatRowError(e),
    });
    if (row.length !== work.header.length) {
      return fail({
        code: "INVALID_FIELD",
        message: `Row has ${row.length} values but the header has ${work.header.length}`,
        fields: [],
      });
    }
    const found = findTarget(store, work, row, dup);
    if ("error" in found) return fail(found.error);
    const { existing } = found;
    if (work.operation === "delete" || work.operation === "hardDelete") {
      removeRecord(store, existing!);
      return { kind: "success", row, id: existing!.id, created: false };
    }
    const values = new Map<string, string | null>();
    const errors: RowError[] = [];
    fields.forEach((field, i) => {
      const raw = row[i]!;
      if (field.name === "Id" || raw === "") return;
      if (raw === "#N/A") return void values.set(field.name, null);
      const checked = checkFieldValue(work.object, field, raw);
      if (checked.ok) values.set(field.name, checked.value);
      else errors.push(checked.error);
    });
    const missing = work.object.fields.filter((f) =>
      f.required && (existing
        ? values.get(f.name) === null
        : values.get(f.name) === undefined || values.get(f.name) === null) &&
      !errors.some((e) =>
        e.fields.includes(f.name)
      )
    ).map((f) => f.name);
    if (missing.length > 0) return fail(requiredMissing(missing));
    if (errors[0]) return fail(errors[0]);
    const clash = uniqueClash(store, work.object, values, existing);
    if (clash) return fail(clash);
    const record = existing ?? { id: nextId(), fields: new Map(), writes: 0 };
    writeRecord(store, work.object, record, values);
    if (!existing) store.byId.set(record.id, record);
    return { kind: "success", row, id: record.id, created: !existing };
  });
}

/** The record a row acts on (none for a create), or the row's error. */
function findTarget(
  store: ObjectStore,
  work: JobWork,
  row: string[],
  dup: Set<string>,
): { existing: StoredRecord | undefined } | { error: RowError } {
  const idField = work.object.fields.find((f) => f.name === "Id")!;
  const byId = (id: string, call: string): { existing: StoredRecord } | { error: RowError } => {
    if (id === "") {
      return {
        error: { code: "MISSING_ARGUMENT", message: `Id not specified in ${call}`, fields: [] },
      };
    }
    const checked = checkFieldValue(work.object, idField, id);
    if (!checked.ok) return { error: checked.error };
    const existing = id.length === 15
      ? [...store.byId.values()].find((r) => r.id.startsWith(id))
      : store.byId.get(id);
    if (existing) return { existing };
    return work.operation === "delete" || work.operation === "hardDelete"
      ? { error: { code: "ENTITY_IS_DELETED", message: "entity is deleted", fields: [] } }
      : {
        error: {
          code: "INVALID_CROSS_REFERENCE_KEY",
          message: "invalid cross reference id",
          fields: [],
        },
      };
  };
  const idAt = columnOf(work, "Id");
  const id = idAt < 0 ? "" : row[idAt]!;
  switch (work.operation) {
    case "insert":
      if (id !== "") {
        return {
          error: {
            code: "INVALID_FIELD_FOR_INSERT_UPDATE",
            message: "cannot specify Id in an insert call",
            fields: ["Id"],
          },
        };
      }
      return { existing: undefined };
    case "update":
      return byId(id, "an update call");
    case "delete":
    case "hardDelete":
      return byId(id, "a delete call");
    case "upsert": {
      const name = work.externalIdFieldName!;
      if (name === "Id") return id === "" ? { existing: undefined } : byId(id, "an upsert call");
      const key = row[columnOf(work, name)] ?? "";
      if (key === "" || key === "#N/A") {
        return {
          error: { code: "MISSING_ARGUMENT", message: `${name} not specified`, fields: [] },
        };
      }
      if (dup.has(key.toLowerCase())) {
        return {
          error: {
            code: "DUPLICATE_VALUE",
            message: `Duplicate external id specified: ${key}`,
            fields: [],
          },
        };
      }
      const holder = store.byExternal.get(name)?.get(key.toLowerCase());
      return { existing: holder === undefined ? undefined : store.byId.get(holder) };
    }
  }
}

/** The error when a row would give an External ID value another record holds. */
function uniqueClash(
  store: ObjectStore,
  object: SalesforceObject,
  values: Map<string, string | null>,
  existing: StoredRecord | undefined,
): RowError | undefined {
  for (const field of object.fields.filter((f: SalesforceField) => f.externalId)) {
    const value = values.get(field.name);
    if (value === undefined || value === null) continue;
    const holder = store.byExternal.get(field.name)?.get(value.toLowerCase());
    if (holder !== undefined && holder !== existing?.id) {
      return {
        code: "DUPLICATE_VALUE",
        message:
          `duplicate value found: ${field.name} duplicates value on record with id: ${holder}`,
        fields: [],
      };
    }
  }
  return undefined;
}

function writeRecord(
  store: ObjectStore,
  object: SalesforceObject,
  record: StoredRecord,
  values: Map<string, string | null>,
): void {
  for (const field of object.fields.filter((f) => f.externalId)) {
    const before = record.fields.get(field.name);
    const after = values.has(field.name) ? values.get(field.name) ?? undefined : before;
    if (before !== undefined && before !== after) {
      store.byExternal.get(field.name)!.delete(before.toLowerCase());
    }
    if (after !== undefined) {
      store.byExternal.get(field.name)!.set(after.toLowerCase(), record.id);
      const counts = store.externalWrites.get(field.name)!;
      counts.set(after, (counts.get(after) ?? 0) + 1);
    }
  }
  for (const [name, value] of values) {
    if (value === null) record.fields.delete(name);
    else record.fields.set(name, value);
  }
  record.writes++;
}

function removeRecord(store: ObjectStore, record: StoredRecord): void {
  store.byId.delete(record.id);
  for (const [name, index] of store.byExternal) {
    const value = record.fields.get(name);
    if (value !== undefined) index.delete(value.toLowerCase());
  }
}
