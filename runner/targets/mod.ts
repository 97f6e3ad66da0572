/**
 * The targets' public face: the contract every target implements, and the shared schema pieces
 * and markers a target definition is built with. The targets themselves are folders
 * (`workspan/`, `bigin/`), each exporting one `TargetDefinition`; runner/registry.ts lists them.
 *
 * @module
 */
export type * from "./types.ts";
export { secret, volatile } from "../config/mod.ts";
export { type CommonTargetConfig, commonTargetFields, concurrency } from "./_common.ts";
export { createFetchOnce } from "./_http.ts";
export { memorySpool } from "./_wire.ts";
