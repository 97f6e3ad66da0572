/**
 * The runner's one error type. Commands throw it; `main.ts` maps its `code` to an exit code.
 *
 * @module
 */

/** What went wrong, as a stable string a caller can branch on. */
export type ErrorCode =
  | "usage" // bad command line
  | "invalid_pipeline" // the pipeline file failed validation (carries diagnostics)
  | "invalid_source" // the source file cannot be read as declared
  | "resume_refused" // the journal's unfinished run cannot be resumed: its file or pipeline changed
  | "already_loaded" // an insert pipeline already loaded this exact file (use --force)
  | "locked" // another run of the same pipeline holds its lock
  | "journal_damaged" // the run journal cannot be read (use --fresh to keep it aside)
  | "auth" // the API refused our credentials
  | "transport" // the API could not be reached, or answered something we cannot read
  | "api" // the API answered with an error we cannot recover from
  | "config_refused" // the API refused what the pipeline asked for (a field the module lacks)
  | "internal";

/** One problem in a pipeline file, with where it is. Lines and columns are 1-based. */
export interface Diagnostic {
  /** Machine-readable kind, e.g. `unknown_key`, `invalid_type`, `missing_env`. */
  code: string;
  /** Path inside the YAML document, e.g. `["mappings", "amount", "type"]`. */
  path: (string | number)[];
  message: string;
  line: number;
  column: number;
}

/** The one error class of the runner; `code` decides the exit code. */
export class RunnerError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RunnerError";
    this.code = code;
  }
}

/** A pipeline file that failed validation; carries every problem found, not just the first. */
export class PipelineError extends RunnerError {
  readonly file: string;
  readonly diagnostics: Diagnostic[];
  constructor(file: string, diagnostics: Diagnostic[]) {
    super(
      "invalid_pipeline",
      `${file}: ${diagnostics.length} problem${diagnostics.length === 1 ? "" : "s"}`,
    );
    this.name = "PipelineError";
    this.file = file;
    this.diagnostics = diagnostics;
  }
}

/** An HTTP answer the runner could not accept; carries the status for the exit-code decision. */
export class HttpError extends RunnerError {
  readonly status: number;
  constructor(code: ErrorCode, status: number, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "HttpError";
    this.status = status;
  }
}

/** The API refused what the pipeline asked for; carries the field it named, when it named one. */
export class ConfigRefusedError extends HttpError {
  readonly field: string | undefined;
  constructor(status: number, message: string, field?: string, options?: ErrorOptions) {
    super("config_refused", status, message, options);
    this.name = "ConfigRefusedError";
    this.field = field;
  }
}

/**
 * A request that failed in transit. `maybeDelivered` is true when the server may have received
 * and processed it (a timeout or reset after the body was sent, a 5xx answer): resending such an
 * upload could load its rows twice.
 */
export class TransportError extends RunnerError {
  readonly maybeDelivered: boolean;
  constructor(message: string, maybeDelivered: boolean, options?: ErrorOptions) {
    super("transport", message, options);
    this.name = "TransportError";
    this.maybeDelivered = maybeDelivered;
  }
}

/**
 * Formats a diagnostic the way compilers do, so editors and terminals can jump to it.
 *
 * @example
 * formatDiagnostic("p.yaml", d) // "p.yaml:12:5 error Unknown key \"sourse\": did you mean \"source\"?"
 */
export function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${file}:${d.line}:${d.column} error ${d.message}`;
}
