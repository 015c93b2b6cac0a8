// What the node needs to know about a certificate it serves: that it names every
// domain, belongs to its key, its lifetime and serial, and when it is due for renewal.

import { createPrivateKey, X509Certificate } from 'node:crypto';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Renew (or refuse to reuse a cached certificate) when less than this remains... */
export const RENEW_BEFORE_MS = 30 * DAY_MS;
/** ...or less than this share of its lifetime, for short-lived certificates (6-day, 45-day). */
export const RENEW_BEFORE_SHARE = 1 / 3;

export interface ServedCertificate {
  /** PEM private key. */
  readonly key: string;
  /** PEM chain, leaf first, as the CA issued it. */
  readonly cert: string;
  readonly domains: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Leaf serial number, upper-case hex. */
  readonly serial: string;
}

export type CertificateCheck =
  | { readonly ok: true; readonly certificate: ServedCertificate }
  | { readonly ok: false; readonly reason: string };

/** Checks a key and certificate chain (PEM) against the domains they are meant for. */
export function checkCertificate(key: string, cert: string, domains: readonly string[]): CertificateCheck {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert); // the first certificate of the chain
  } catch (error) {
    return { ok: false, reason: `unreadable certificate: ${(error as Error).message}` };
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) return { ok: false, reason: 'key does not match the certificate' };
  } catch (error) {
    return { ok: false, reason: `unreadable key: ${(error as Error).message}` };
  }
  const missing = domains.filter((domain) => leaf.checkHost(domain, { wildcards: false }) === undefined);
  if (missing.length > 0) return { ok: false, reason: `certificate does not name ${missing.join(', ')}` };
  return {
    ok: true,
    certificate: {
      key,
      cert,
      domains: [...domains],
      notBefore: leaf.validFromDate,
      notAfter: leaf.validToDate,
      serial: leaf.serialNumber.toUpperCase(),
    },
  };
}

/** When renewal is due: 30 days before expiry, or earlier for certificates shorter than 90 days. */
export function renewalDate(certificate: Pick<ServedCertificate, 'notBefore' | 'notAfter'>): Date {
  const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
  const margin = Math.min(RENEW_BEFORE_MS, lifetime * RENEW_BEFORE_SHARE);
  return new Date(certificate.notAfter.getTime() - margin);
}

export function needsRenewal(certificate: Pick<ServedCertificate, 'notBefore' | 'notAfter'>, now: Date): boolean {
  return now.getTime() >= renewalDate(certificate).getTime();
}
