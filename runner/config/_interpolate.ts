/**
 * Environment interpolation in pipeline strings: `${VAR}`, `${VAR:-default}`, `${VAR:?message}`,
 * and `$$` for a literal dollar sign. Only values are interpolated, never keys, and nothing is
 * evaluated: this is text substitution, not code.
 *
 * @module
 */

/** A problem found while interpolating one string. */
export interface InterpolationProblem {
  code: "missing_env" | "bad_reference";
  message: string;
}

// The last branch catches a `${` that never closes, which would otherwise pass through as text.
const REF = /\$\$|\$\{([^}]*)\}|\$\{/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces environment references in `text`.
 *
 * @param env looks up a variable; `undefined` when it is not set
 * @param placeholders stand in `unset-NAME` for a variable that is not set and has no default
 * @returns the new text and any problems (a missing variable leaves its reference in place)
 * @example
 * interpolate("${HOST:-localhost}:8080", () => undefined) // { text: "localhost:8080", problems: [] }
 */
export function interpolate(
  text: string,
  env: (name: string) => string | undefined,
  placeholders = false,
): { text: string; problems: InterpolationProblem[]; usedEnv: boolean } {
  const problems: InterpolationProblem[] = [];
  let usedEnv = false;
  if (!text.includes("$")) return { text, problems, usedEnv };
  const out = text.replace(REF, (whole, inner: string | undefined) => {
    if (whole === "$$") return "$";
    if (inner === undefined) {
      problems.push({
        code: "bad_reference",
        message: `"\${" is not closed: write \${NAME}, or $\${ for a literal "\${"`,
      });
      return whole;
    }
    const m = /^([^:]*)(?::([-?])([\s\S]*))?$/.exec(inner)!;
    const name = m[1]!;
    if (!NAME.test(name)) {
      problems.push({
        code: "bad_reference",
        message:
          `"${whole}" is not a valid environment reference: use \${NAME}, \${NAME:-default} or \${NAME:?message}`,
      });
      return whole;
    }
    const value = env(name);
    const set = value !== undefined && value !== "";
    if (set) {
      usedEnv = true;
      return value;
    }
    if (m[2] === "-") return m[3]!;
    // `validate --allow-missing-env` (CI without secrets) checks everything else. A *_URL
    // stands in as a URL nobody can reach, so the URL check passes and nothing leaks.
    if (placeholders) {
      return /_URL$/.test(name)
        ? `https://unset-${name.toLowerCase().replaceAll("_", "-")}.invalid`
        : `unset-${name}`;
    }
    problems.push({
      code: "missing_env",
      message: m[2] === "?"
        ? `Environment variable ${name} is not set: ${m[3] || "it is required"}`
        : `Environment variable ${name} is not set (write \${${name}:-default} to give a default)`,
    });
    return whole;
  });
  return { text: out, problems, usedEnv };
}
