// Plain counters the hot paths bump; metrics.ts reads them when scraped. Counting in
// plain numbers keeps label lookups and allocations off the per-frame path.

import type { OutboundTotals } from './outbound.ts';
import type { RefusalCode, HttpRefusalCode } from './refusals.ts';

export class NodeStats implements OutboundTotals {
  connections = 0;
  connectionsTotal = 0;
  framesIn = 0;
  bytesIn = 0;
  framesOut = 0;
  bytesOut = 0;
  slowConsumersDropped = 0;
  readonly rejected = new Map<RefusalCode | HttpRefusalCode, number>();
  /** Native protocol error frames sent, by code. */
  readonly nativeErrors = new Map<string, number>();

  nativeError(code: string): void {
    this.nativeErrors.set(code, (this.nativeErrors.get(code) ?? 0) + 1);
  }

  reject(code: RefusalCode | HttpRefusalCode): void {
    this.rejected.set(code, (this.rejected.get(code) ?? 0) + 1);
  }
}
