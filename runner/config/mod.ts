/**
 * The pipeline format and how pipeline files are read.
 *
 * @module
 */
export * from "./schema.ts";
export { loadPipeline, locator, parsePipeline, validate } from "./load.ts";
export type { LoadedPipeline, LoadOptions } from "./load.ts";
export { baseUrl, duration, nonEmpty, parseDuration } from "./fields.ts";
export { identityOf, secret, secretValues, volatile } from "./markers.ts";
