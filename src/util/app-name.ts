/**
 * Application names: one rule for the labels file, the training set and the model directory,
 * since a name written in one becomes a class in the next and a directory in the last.
 */

/** Labels the sensor gives itself; no application may take them. */
export const RESERVED_LABELS: readonly string[] = ['background', 'unknown', 'unclassified'];

/** Letters, digits, '.', '_', '+', '-'; starting with a letter or digit; at most 64. */
export const APP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

export const APP_NAME_RULE = "letters, digits, '.', '_', '+', '-', starting with a letter or digit, at most 64";

/** Why `name` cannot be an application name, or null when it can. */
export function appNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') {
    // YAML reads `app: 42` or `app: true` as a number or a boolean, not as text
    return `${String(name)} is a ${typeof name}, not a name: quote it ('"${String(name)}"') if it is meant as one`;
  }
  if (!APP_NAME_RE.test(name)) return `'${name}' is not a valid name (${APP_NAME_RULE})`;
  if (RESERVED_LABELS.includes(name.toLowerCase())) return `'${name}' is reserved (${RESERVED_LABELS.join(', ')})`;
  return null;
}
