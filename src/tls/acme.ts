// Obtains and renews the node's certificate from an ACME CA over TLS-ALPN-01:
// account, order, challenges (published in AlpnChallenges, answered by the TLS
// listener), finalize, cache; then a background check that renews before expiry and
// hands each new certificate to `onCertificate` so the listener swaps it live.

import { Client, crypto as acmeCrypto, setLogger, type Authorization } from 'acme-client';
import type { Logger } from 'pino';
import { AcmeCache } from './acme-cache.ts';
import { probeDirectory, trustAcmeCa, type AcmeTrust } from './acme-directory.ts';
import { checkCertificate, needsRenewal, renewalDate, type ServedCertificate } from './certificate-facts.ts';
import type { AlpnChallenges } from './alpn-challenge.ts';

export const RENEWAL_CHECK_MS = 12 * 60 * 60 * 1000;
const TLS_ALPN_01 = 'tls-alpn-01';

/** Where obtaining a certificate failed; each has its own advice. */
export const ACME_FAILURES = {
  ERR_ACME_CACHE: 'cannot use the ACME cache directory',
  ERR_ACME_DIRECTORY: 'cannot reach the ACME directory',
  ERR_ACME_ACCOUNT: 'the CA refused the ACME account',
  ERR_ACME_ORDER: 'the CA refused the certificate order',
  ERR_ACME_CHALLENGE: 'the CA could not validate the domain',
  ERR_ACME_FINALIZE: 'the CA did not issue the certificate',
} as const;

export type AcmeFailureCode = keyof typeof ACME_FAILURES;

export class AcmeError extends Error {
  readonly code: AcmeFailureCode;
  /** What the operator can do about it. */
  readonly hint: string;
  readonly detail: string;

  constructor(code: AcmeFailureCode, detail: string, hint: string, options?: { cause?: unknown }) {
    super(`${ACME_FAILURES[code]}: ${detail}. ${hint}`, options);
    this.name = 'AcmeError';
    this.code = code;
    this.detail = detail;
    this.hint = hint;
  }
}

export interface CertificateManagerOptions {
  readonly directoryUrl: string;
  readonly domains: readonly string[];
  readonly emails: readonly string[];
  readonly cacheDir: string;
  /** Extra CA (PEM) trusted for HTTPS to the ACME directory's host, e.g. pebble's. */
  readonly acmeCa: string | undefined;
  /** The TLS listener's address, for advice in errors. */
  readonly listening: { readonly host: string; readonly port: number };
  readonly challenges: AlpnChallenges;
  readonly log: Logger;
  /** Called with the first certificate and with every renewal. */
  readonly onCertificate: (certificate: ServedCertificate) => void;
  readonly checkIntervalMs?: number;
  readonly now?: () => Date;
}

type Stage = 'cache' | 'directory' | 'account' | 'order' | 'challenge' | 'finalize';
const STAGE_CODES: Record<Stage, AcmeFailureCode> = {
  cache: 'ERR_ACME_CACHE',
  directory: 'ERR_ACME_DIRECTORY',
  account: 'ERR_ACME_ACCOUNT',
  order: 'ERR_ACME_ORDER',
  challenge: 'ERR_ACME_CHALLENGE',
  finalize: 'ERR_ACME_FINALIZE',
};

export class CertificateManager {
  private readonly options: CertificateManagerOptions;
  private readonly cache: AcmeCache;
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly trust: AcmeTrust;
  private current: ServedCertificate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private client: Client | undefined;
  private renewing: Promise<void> | undefined;
  private closed = false;

  constructor(options: CertificateManagerOptions) {
    this.options = options;
    this.cache = new AcmeCache(options.cacheDir, options.directoryUrl, options.domains);
    this.now = options.now ?? (() => new Date());
    this.log = options.log.child({ domains: options.domains });
    this.trust = trustAcmeCa(options.directoryUrl, options.acmeCa);
    // acme-client's own trace (HTTP requests, polling) goes to our debug level.
    setLogger((message) => options.log.debug({ source: 'acme-client' }, message));
  }

  get certificate(): ServedCertificate | undefined {
    return this.current;
  }

  /** Serves a still-fresh cached certificate or obtains one; then checks for renewal periodically. */
  async start(): Promise<ServedCertificate> {
    const certificate = (await this.loadCached()) ?? (await this.obtain('certificate obtained'));
    this.use(certificate);
    this.timer = setInterval(() => void this.renewIfDue(), this.options.checkIntervalMs ?? RENEWAL_CHECK_MS);
    this.timer.unref();
    return certificate;
  }

  /** Renews in the background when due; failures are logged and retried at the next check. */
  renewIfDue(): Promise<void> {
    const current = this.current;
    if (this.closed || this.renewing !== undefined || current === undefined) return this.renewing ?? Promise.resolve();
    if (!needsRenewal(current, this.now())) return Promise.resolve();
    this.log.info({ notAfter: current.notAfter.toISOString() }, 'certificate renewal due');
    this.renewing = this.obtain('certificate renewed')
      .then((certificate) => {
        if (!this.closed) this.use(certificate);
      })
      .catch((error: unknown) => {
        const e = error instanceof AcmeError ? error : undefined;
        this.log.error(
          { code: e?.code, err: e?.detail ?? String(error), hint: e?.hint, notAfter: current.notAfter.toISOString() },
          'certificate renewal failed; the current certificate stays in use and renewal is retried later',
        );
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.trust.detach();
  }

  private use(certificate: ServedCertificate): void {
    this.current = certificate;
    this.options.onCertificate(certificate);
  }

  private async loadCached(): Promise<ServedCertificate | undefined> {
    const cached = await this.cache.loadCertificate();
    if (cached === undefined) return undefined;
    const check = checkCertificate(cached.key, cached.cert, this.options.domains);
    if (!check.ok) {
      this.log.warn({ file: this.cache.certFile, reason: check.reason }, 'cached certificate not usable; ordering a new one');
      return undefined;
    }
    const facts = describe(check.certificate);
    if (needsRenewal(check.certificate, this.now())) {
      this.log.info(facts, 'cached certificate expires soon; ordering a new one');
      return undefined;
    }
    this.log.info({ ...facts, file: this.cache.certFile }, 'using cached certificate');
    return check.certificate;
  }

  private async obtain(done: string): Promise<ServedCertificate> {
    const { domains, directoryUrl } = this.options;
    let stage: Stage = 'cache';
    try {
      const accountKey = await this.cache.accountKey(async () => (await acmeCrypto.createPrivateEcdsaKey()).toString());
      stage = 'directory';
      await probeDirectory(directoryUrl, this.trust.agent);
      stage = 'account';
      const client = await this.account(accountKey);
      stage = 'order';
      this.log.info({ directory: directoryUrl }, 'ordering certificate');
      const order = await client.createOrder({ identifiers: domains.map((value) => ({ type: 'dns', value })) });
      const authorizations = await client.getAuthorizations(order);
      stage = 'challenge';
      const results = await Promise.allSettled(authorizations.map((authz) => this.authorize(client, authz)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      stage = 'finalize';
      const [key, csr] = await acmeCrypto.createCsr(
        { commonName: domains[0], altNames: [...domains] },
        await acmeCrypto.createPrivateEcdsaKey(),
      );
      const finalized = await client.finalizeOrder(order, csr);
      const chain = await client.getCertificate(finalized);
      const check = checkCertificate(key.toString(), chain, domains);
      if (!check.ok) throw new Error(`the issued certificate is unusable: ${check.reason}`);
      await this.cache.saveCertificate({ key: check.certificate.key, cert: check.certificate.cert }).catch((error: unknown) => {
        // Still serve it; only a restart would have to order again.
        this.log.error({ err: errorDetail(error), hint: this.hint('cache', error) }, 'cannot cache the certificate');
      });
      this.log.info({ ...describe(check.certificate), file: this.cache.certFile }, done);
      return check.certificate;
    } catch (error) {
      if (error instanceof AcmeError) throw error;
      throw new AcmeError(STAGE_CODES[stage], errorDetail(error), this.hint(stage, error), { cause: error });
    }
  }

  /** The ACME client with its account: looked up by key, else registered; kept for renewals. */
  private async account(accountKey: string): Promise<Client> {
    if (this.client !== undefined) return this.client;
    const { directoryUrl, emails } = this.options;
    const client = new Client({ directoryUrl, accountKey, backoffAttempts: 12, backoffMin: 1000, backoffMax: 10_000 });
    const contact = emails.length > 0 ? { contact: emails.map((email) => `mailto:${email}`) } : {};
    // Look the account up first: registering again with an existing key would send the
    // CA an "update" that some refuse (pebble: "Use POST-as-GET ... empty update").
    let existing = true;
    try {
      await client.createAccount({ onlyReturnExisting: true });
    } catch {
      existing = false; // the CA's "no such account" has no stable form; registering tells the rest
    }
    if (existing) {
      if (emails.length > 0) await client.updateAccount(contact);
      this.log.info({ account: client.getAccountUrl() }, 'using acme account');
    } else {
      // Running with --domains is taken as agreeing to the CA's terms, as with the Mles server.
      await client.createAccount({ termsOfServiceAgreed: true, ...contact });
      this.log.info({ account: client.getAccountUrl(), termsOfService: await client.getTermsOfServiceUrl() }, 'acme account created');
    }
    this.client = client;
    return client;
  }

  private async authorize(client: Client, authz: Authorization): Promise<void> {
    const domain = authz.identifier.value;
    if (authz.status === 'valid') {
      this.log.info({ domain }, 'acme authorization still valid; no challenge needed');
      return;
    }
    const challenge = authz.challenges.find((c) => (c.type as string) === TLS_ALPN_01);
    if (challenge === undefined) {
      const offered = authz.challenges.map((c) => c.type).join(', ');
      throw new AcmeError(
        'ERR_ACME_CHALLENGE',
        `the CA offers no ${TLS_ALPN_01} challenge for ${domain} (only: ${offered || 'none'})`,
        'parley answers only TLS-ALPN-01; use a CA that supports it, or --tls-cert/--tls-key with --listen',
      );
    }
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    const [key, cert] = await acmeCrypto.createAlpnCertificate(
      authz,
      keyAuthorization,
      await acmeCrypto.createPrivateEcdsaKey(),
    );
    this.options.challenges.add(domain, key.toString(), cert.toString());
    let submitted = false;
    try {
      this.log.info({ domain, challenge: TLS_ALPN_01 }, 'acme challenge ready; asking the CA to validate');
      await client.completeChallenge(challenge);
      submitted = true;
      await client.waitForValidStatus(challenge);
      this.log.info({ domain }, 'acme challenge validated');
    } catch (error) {
      if (!submitted) await client.deactivateAuthorization(authz).catch(() => undefined);
      throw new AcmeError('ERR_ACME_CHALLENGE', `${domain}: ${errorDetail(error)}`, this.hint('challenge', error, domain), {
        cause: error,
      });
    } finally {
      this.options.challenges.remove(domain);
    }
  }

  private hint(stage: Stage, error: unknown, domain?: string): string {
    const { directoryUrl, listening, domains } = this.options;
    switch (stage) {
      case 'cache':
        return `Check that the cache directory (--cache, now ${this.options.cacheDir}) is writable by this user`;
      case 'directory':
      case 'account': {
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
          return `The ACME server's HTTPS certificate is not trusted: if it is a private or test CA, pass its certificate with --acme-ca FILE`;
        }
        return `Check the directory URL (${directoryUrl}) and that this machine can make outbound HTTPS connections to it`;
      }
      case 'order':
        return `Check the domain names (${domains.join(', ')}) and the CA's rate limits; retry later if the CA is busy`;
      case 'challenge': {
        const name = domain ?? domains.join(', ');
        const forward = listening.port === 443 ? '' : ` (public CAs always connect to port 443: forward it to port ${listening.port})`;
        return (
          `Check that DNS for ${name} points to this machine's public address and that TCP port 443 reaches ` +
          `this node, which listens on ${listening.host}:${listening.port}${forward}; a firewall, NAT or a proxy ` +
          `that terminates TLS in front of it blocks TLS-ALPN-01`
        );
      }
      case 'finalize':
        return 'Retry later; if it persists, check the CA status page';
    }
  }
}

function describe(certificate: ServedCertificate): Record<string, string> {
  return {
    serial: certificate.serial,
    notAfter: certificate.notAfter.toISOString(),
    renewAfter: renewalDate(certificate).toISOString(),
  };
}

function errorDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // acme-client 5.4 drops the cause of a network error once its retries run out.
  if (error instanceof TypeError && error.message.includes("reading 'config'")) {
    return 'the connection to the ACME server failed repeatedly (run with --log-level debug for each attempt)';
  }
  const code = (error as { code?: unknown }).code;
  const message = error.message.replace(/\.$/, '');
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}
