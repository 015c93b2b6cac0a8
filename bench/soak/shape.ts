// The shape of the soak run: its channels, how hard each client loads A, and the
// times and margins the run and its checks go by.

export const CHANNELS = ['soak-0', 'soak-1', 'soak-2', 'soak-3'];
/** The channels B's subscriber follows (and B's publisher writes to the first). */
export const FOLLOWED = ['soak-0', 'soak-1'];
export const TMPFS_MIB = 64;
/**
 * How far above its baseline A's idle RSS may end. A healthy run ends some 10 MiB above
 * it (V8 keeps heap it has grown into for a while after the load, SQLite its page cache),
 * and the peak under load is some 40 MiB above it; 64 MiB leaves room for a late garbage
 * collection on a busy machine. A leak does not: A's last process stores some 25,000
 * messages after its baseline in a full run, so 2.5 KiB kept per message (or per refused
 * publish of the disk-full phase, or a few hundred KiB per reconnecting client) trips it.
 */
export const RSS_MARGIN_MIB = 64;
export const NATIVE_PUBLISHERS = 3;
/** Publishes per second of each native publisher on A, plus bursts. */
export const PUBLISH_RATE = 60;
/** Unacknowledged publishes per publisher, refused ones awaiting their retry included. */
export const WINDOW = 256;
export const MLES_USERS = 3;
/** Frames per second of each Mles client while joined. */
export const MLES_RATE = 10;
export const HTTP_PAUSE_MS = 100;
export const TICK_MS = 50;
export const SETTLE_MS = 10_000;
/** Time to wait, at the end, for publishes still unacknowledged. */
export const DRAIN_MS = 30_000;
/** A STORE_FAILED publish is sent again (with the same cid) after this. */
export const RETRY_MS = 500;
