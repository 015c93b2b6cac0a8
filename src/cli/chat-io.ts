// What `parley chat` runs with: its streams and its validated flags.

export interface ChatIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Where MLES_KEY is read from when --key is not given; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ChatOptions {
  readonly url: string;
  readonly uid: string;
  readonly channel: string;
  readonly key: string | undefined;
  readonly raw: boolean;
  /** Speak parley's native protocol through the SDK instead of Mles. */
  readonly native: boolean;
  /** With native: stored messages shown on joining. */
  readonly history: number;
}
