/**
 * The pipeline format and how pipeline files are read.
 *
 * @module
 */
export * from "./schema.ts";
export { loadPipeline, parsePipeline, validate } from "./load.ts";
export type { LoadedPipeline, LoadOptions } from "./load.ts";
export { interpolate } from "./_interpolate.ts";
export { baseUrl, duration, nonEmpty, parseDuration } from "./fields.ts";
export {
  type DataPath,
  identityOf,
  isSecretPath,
  type MarkedField,
  markedFields,
  secret,
  secretValues,
  volatile,
} from "./markers.ts";
