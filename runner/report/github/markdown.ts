/**
 * Markdown for the job summary: escaping of user and API text, code spans. Shared by the summary
 * and its advice.
 *
 * @module
 */

/**
 * Escapes text from users or APIs for Markdown, inline or in a table cell: HTML-significant
 * `& < >` become entities, Markdown punctuation (`\ \` * _ [ ] | ~`) is backslash-escaped so a
 * `|` cannot split a table cell, and line breaks become spaces.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\r\n?|\n/g, " ")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replace(/[\\`*_[\]|~]/g, "\\$&");
}

/** An identifier in a code span when it is plain enough, else escaped text. */
export function codeSpan(text: string): string {
  return /^[\w.:/@+=-]+$/.test(text) ? `\`${text}\`` : escapeMarkdown(text);
}
