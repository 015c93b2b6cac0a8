// Listing channels in the network's directory of public channels (`public` frames, each
// with a request id answered by `listed`), and taking them off it (`unpublic`, answered by
// `unlisted`). Both are idempotent, so one lost with its connection is simply sent again
// once the client reconnects (resent-requests.ts).

import { mlesAuth } from '../access/auth.ts';
import { MAX_ABOUT_LENGTH, type ListedFrame, type PublicFrame, type UnlistedFrame, type UnpublicFrame } from '../native/frames.ts';
import type { Connection } from './connection.ts';
import type { ParleyError } from './errors.ts';
import type { Listed, ListPublicOptions, UnlistPublicOptions } from './options.ts';
import { ResentRequests } from './resent-requests.ts';

export interface ListingsHost {
  connection(): Connection | undefined;
  readonly uid: string;
}

export class Listings {
  readonly #host: ListingsHost;
  readonly #requests: ResentRequests<PublicFrame, Listed>;
  readonly #unlistings: ResentRequests<UnpublicFrame, void>;

  constructor(host: ListingsHost, timeoutMs: number) {
    this.#host = host;
    // Ids distinct from query ids (q...): errors name the request by its id alone.
    this.#requests = new ResentRequests({ what: 'listing', prefix: 'l', connection: () => host.connection(), timeoutMs });
    this.#unlistings = new ResentRequests({ what: 'unlisting', prefix: 'u', connection: () => host.connection(), timeoutMs });
  }

  list(channel: string, options: ListPublicOptions): Promise<Listed> {
    const about = options.about ?? '';
    if (about.length > MAX_ABOUT_LENGTH) throw new RangeError(`about must be at most ${MAX_ABOUT_LENGTH} characters`);
    const frame: PublicFrame = { t: 'public', qid: this.#requests.nextId(), ch: channel, about, auth: mlesAuth(this.#host.uid, channel, options.key) };
    return this.#requests.send(frame, options, channel);
  }

  unlist(channel: string, options: UnlistPublicOptions): Promise<void> {
    const frame: UnpublicFrame = { t: 'unpublic', qid: this.#unlistings.nextId(), ch: channel, auth: mlesAuth(this.#host.uid, channel, options.key) };
    return this.#unlistings.send(frame, options, channel);
  }

  /** A connection came up: send every unanswered listing and unlisting (again). */
  resendAll(): void {
    this.#requests.resendAll();
    this.#unlistings.resendAll();
  }

  answered(frame: ListedFrame): void {
    this.#requests.answered(frame.qid, { channel: frame.ch, about: frame.about });
  }

  unlisted(frame: UnlistedFrame): void {
    this.#unlistings.answered(frame.qid, undefined);
  }

  /** An `err` about a qid; false when no listing or unlisting with that qid is waiting. */
  refused(qid: string, error: ParleyError): boolean {
    return this.#requests.refused(qid, error) || this.#unlistings.refused(qid, error);
  }

  rejectAll(error: ParleyError): void {
    this.#requests.rejectAll(error);
    this.#unlistings.rejectAll(error);
  }
}
