/**
 * Workflow commands: the `::name props::message` lines GitHub reads from a step's log
 * (annotations, log groups), and the escaping that keeps text from outside from forging them.
 *
 * @module
 */

/** Escapes the message of a workflow command (`%`, CR, LF), as `@actions/core` does. */
export function escapeData(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** Escapes a property value of a workflow command: as {@linkcode escapeData}, plus `:` and `,`. */
export function escapeProperty(text: string): string {
  return escapeData(text).replaceAll(":", "%3A").replaceAll(",", "%2C");
}

/**
 * Formats one workflow command line; properties that are `undefined` are left out.
 *
 * @example
 * workflowCommand("error", { file: "a.csv", line: 3 }, "Bad date") // "::error file=a.csv,line=3::Bad date"
 */
export function workflowCommand(
  name: string,
  properties: Record<string, string | number | undefined>,
  message: string,
): string {
  const props = Object.entries(properties)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(",");
  return `::${name}${props ? ` ${props}` : ""}::${escapeData(message)}`;
}

/** Starts a collapsible group in the job log; close it with {@linkcode endGroup}. */
export function startGroup(name: string): string {
  return `::group::${escapeData(name)}`;
}

/** Ends the group {@linkcode startGroup} opened. */
export function endGroup(): string {
  return "::endgroup::";
}

/**
 * Stops GitHub from reading workflow commands in the log until {@linkcode resumeCommands} with the
 * same token: wrap output that echoes untrusted text (API messages, source values). Use a token
 * nobody can guess, e.g. `crypto.randomUUID()`.
 */
export function stopCommands(token: string): string {
  return `::stop-commands::${token}`;
}

/** Resumes reading workflow commands after {@linkcode stopCommands}. */
export function resumeCommands(token: string): string {
  return `::${token}::`;
}
