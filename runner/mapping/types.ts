/**
 * The vocabulary of mapped rows, shared by the mapper's parts and the targets.
 *
 * @module
 */

/** A value in a mapped row, as it is sent. Dates are ISO strings (`yyyy-MM-dd`). */
export type Value = string | number | boolean | null;

/** One mapped row: target field -> value. */
export type MappedRow = Record<string, Value>;

/** Why a row could not be mapped. `message` follows the API's style. */
export interface FieldError {
  /** The target field that failed. */
  field: string;
  /** `required`, `key_missing`, `invalid_number`, `invalid_date`, `unmatched_value`, ... */
  code: string;
  /** `Missing value of required field 'x'`, `invalid value in field 'x': ...` */
  message: string;
}

/** The outcome of mapping one record. */
export type MapResult = { ok: true; row: MappedRow } | { ok: false; errors: FieldError[] };
