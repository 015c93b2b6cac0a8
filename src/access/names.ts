// Channel names and uids, as every protocol and the SDK take them: the rule Mles set
// (ASCII, as the reference checks), held everywhere so that what one protocol stores,
// every other can name.

/** Longest uid or channel accepted, in characters (ASCII, so also bytes). */
export const MAX_NAME_LENGTH = 1024;

// Printable and control ASCII both pass the reference's is_ascii check; we also refuse
// control characters, which no real client sends and which corrupt logs.
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** What is wrong with a uid or channel name, if anything: every protocol holds names to this. */
export function nameError(field: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return `${field} must be a string`;
  if (value.length === 0) return `${field} must not be empty`;
  if (value.length > MAX_NAME_LENGTH) return `${field} longer than ${MAX_NAME_LENGTH}`;
  if (!PRINTABLE_ASCII.test(value)) return `${field} must be printable ASCII`;
  return undefined;
}

/** Whether a value is a valid uid or channel name (see nameError for why not). */
export function isName(value: unknown): value is string {
  return nameError('', value) === undefined;
}

/** The rule in one phrase, for error messages. */
export const NAME_RULE = `1-${MAX_NAME_LENGTH} printable ASCII characters`;
