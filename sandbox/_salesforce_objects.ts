/**
 * The sObjects the Salesforce sandbox knows, their fields, and the value checks and row errors
 * (`sf__Error`, `CODE:message:fields --`) the org would give them.
 *
 * @module
 */

/** How a field's value is checked. */
export type SalesforceFieldType = "id" | "text" | "picklist" | "date" | "currency" | "percent";

/** One field of an sObject. */
export interface SalesforceField {
  /** API name, as the CSV header gives it. */
  name: string;
  /** The label error messages use. */
  label: string;
  type: SalesforceFieldType;
  /** Required on create (and cannot be set to null). */
  required?: boolean;
  /** Longest text value. */
  maxLength?: number;
  /** Restricted picklist values. */
  values?: readonly string[];
  /** Lowest and highest number. */
  min?: number;
  max?: number;
  /** An External ID field (unique): usable as `externalIdFieldName`. */
  externalId?: boolean;
}

/** An sObject: its API name, the 3-character id prefix of its records, and its fields. */
export interface SalesforceObject {
  name: string;
  keyPrefix: string;
  fields: readonly SalesforceField[];
}

/** Opportunity's stage picklist, as in a new org. */
export const OPPORTUNITY_STAGES = [
  "Prospecting",
  "Qualification",
  "Needs Analysis",
  "Value Proposition",
  "Id. Decision Makers",
  "Perception Analysis",
  "Proposal/Price Quote",
  "Negotiation/Review",
  "Closed Won",
  "Closed Lost",
] as const;

/** The objects the sandbox serves, by API name. */
export const SALESFORCE_OBJECTS: ReadonlyMap<string, SalesforceObject> = new Map([
  ["Opportunity", {
    name: "Opportunity",
    keyPrefix: "006",
    fields: [
      { name: "Id", label: "Opportunity ID", type: "id" },
      { name: "Name", label: "Name", type: "text", required: true, maxLength: 120 },
      {
        name: "StageName",
        label: "Stage",
        type: "picklist",
        required: true,
        values: OPPORTUNITY_STAGES,
      },
      { name: "CloseDate", label: "Close Date", type: "date", required: true },
      { name: "Amount", label: "Amount", type: "currency" },
      { name: "Probability", label: "Probability (%)", type: "percent", min: 0, max: 100 },
      { name: "Description", label: "Description", type: "text", maxLength: 32_000 },
      {
        name: "External_Ref__c",
        label: "External Ref",
        type: "text",
        maxLength: 40,
        externalId: true,
      },
    ],
  }],
]);

/** A row error: code, message and the fields it concerns. */
export interface RowError {
  code: string;
  message: string;
  fields: string[];
}

/** `sf__Error` as the result file gives it: `CODE:message:Field1 Field2 --`. */
export function formatRowError(e: RowError): string {
  return `${e.code}:${e.message}:${e.fields.map((f) => `${f} `).join("")}--`;
}

/** The error for required fields left empty (or set to `#N/A`). */
export function requiredMissing(fields: string[]): RowError {
  return {
    code: "REQUIRED_FIELD_MISSING",
    message: `Required fields are missing: [${fields.join(", ")}]`,
    fields,
  };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
/** 15- or 18-character record ids. */
const RECORD_ID = /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/;

function realDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const at = new Date(Date.UTC(y, mo - 1, d));
  return at.getUTCFullYear() === y && at.getUTCMonth() === mo - 1 && at.getUTCDate() === d;
}

/**
 * Checks one non-empty value; returns the stored form (dates as `YYYY-MM-DD`) or the row error.
 */
export function checkFieldValue(
  object: SalesforceObject,
  field: SalesforceField,
  value: string,
): { ok: true; value: string } | { ok: false; error: RowError } {
  const fail = (code: string, message: string) => ({
    ok: false as const,
    error: { code, message, fields: [field.name] },
  });
  switch (field.type) {
    case "id":
      if (!RECORD_ID.test(value) || !value.startsWith(object.keyPrefix)) {
        return fail("MALFORMED_ID", `${field.label}: id value of incorrect type: ${value}`);
      }
      return { ok: true, value };
    case "text":
      if (field.maxLength !== undefined && [...value].length > field.maxLength) {
        return fail(
          "STRING_TOO_LONG",
          `${field.label}: data value too large: ${value} (max length=${field.maxLength})`,
        );
      }
      return { ok: true, value };
    case "picklist":
      if (!field.values?.includes(value)) {
        return fail(
          "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
          `${field.label}: bad value for restricted picklist field: ${value}`,
        );
      }
      return { ok: true, value };
    case "date": {
      const dt = DATE_TIME.exec(value);
      const day = dt ? dt[1]! : value;
      if (!realDate(day)) {
        return fail(
          "INVALID_TYPE_ON_FIELD_IN_RECORD",
          `${field.label}: value not of required type: ${value}`,
        );
      }
      return { ok: true, value: day };
    }
    case "currency":
    case "percent": {
      if (!NUMBER.test(value)) {
        return fail(
          "INVALID_TYPE_ON_FIELD_IN_RECORD",
          `${field.label}: value not of required type: ${value}`,
        );
      }
      const n = Number(value);
      if (
        (field.min !== undefined && n < field.min) || (field.max !== undefined && n > field.max)
      ) {
        return fail(
          "NUMBER_OUTSIDE_VALID_RANGE",
          `${field.label}: value outside of valid range on numeric field: ${value}`,
        );
      }
      return { ok: true, value: String(n) };
    }
  }
}
