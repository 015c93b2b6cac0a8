// The ACME-managed https/wss listener for `--domains`. Placeholder until the
// certificate manager lands: refuses to start with a clear message.

import type { Logger } from 'pino';
import type { NodeConfig } from './config.ts';
import type { RequestHandler, UpgradeHandler } from './node.ts';

export interface ManagedTls {
  readonly urls: readonly string[];
  close(): Promise<void>;
}

export async function startManagedTls(options: {
  config: NodeConfig;
  log: Logger;
  onRequest: RequestHandler;
  onUpgrade: UpgradeHandler;
}): Promise<ManagedTls> {
  throw new Error(`ACME certificates for ${options.config.domains.join(', ')} are not supported yet`);
}
