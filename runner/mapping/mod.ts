/**
 * Mapping: turns one source record into one target row, checking each field.
 * (Interface fixed here; implementation in progress.)
 *
 * @module
 */
import type { MappingSpec } from "../config/schema.ts";

/** A value in a mapped row, as it is sent. Dates are ISO strings (`yyyy-MM-dd`). */
export type Value = string | number | boolean | null;

/** One mapped row: target field -> value. */
export type MappedRow = Record<string, Value>;

/** Why a row could not be mapped. `message` follows the API's style. */
export interface FieldError {
  field: string;
  /** `required`, `key_missing`, `invalid_number`, `invalid_date`, `unmatched_value`, ... */
  code: string;
  message: string;
}

/** The outcome of mapping one record. */
export type MapResult = { ok: true; row: MappedRow } | { ok: false; errors: FieldError[] };

/** A compiled set of mappings. */
export interface RowMapper {
  /** Target fields in declaration order (the wire column order). */
  readonly fields: readonly string[];
  /** Source columns/properties the mappings read (from `from` and `template`), in first-use order. */
  readonly sourceColumns: readonly string[];
  map(record: Readonly<Record<string, unknown>>): MapResult;
}

export type { MappingSpec };
