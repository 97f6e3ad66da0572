/**
 * Described APIs: a bulk API written as a YAML description (`apis/*.yaml`) and run by one
 * generic target. See `docs/api-descriptions.md`.
 *
 * @example
 * const salesforce = describedDefinition("apis/salesforce-bulk2.yaml"); // api "salesforce-bulk2"
 *
 * @module
 */
export { createDescribedTarget, type DescribedConfig, describedDefinition } from "./target.ts";
export { loadDescription, type LoadedDescription, parseDescription } from "./load.ts";
export { type Description, descriptionSchema } from "./schema.ts";
export { describedDocsTable, descriptionJsonSchema, withDocsTable } from "./docs.ts";
