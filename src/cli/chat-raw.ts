// How `parley chat --raw` prints a frame: as it came, like websocat.

/** Text as text, binary as UTF-8 when it is valid, else its size. */
export function formatRaw(bytes: Uint8Array, isBinary: boolean): string {
  if (!isBinary) return Buffer.from(bytes).toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return `[binary ${bytes.byteLength} bytes]`;
  }
}
