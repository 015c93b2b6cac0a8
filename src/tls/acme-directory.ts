// How the node reaches the ACME CA over HTTPS: which CA certificates it trusts for the
// directory's host (`--acme-ca`), and a first fetch of the directory that fails fast
// with the real cause. acme-client retries network errors for over a minute and then
// loses their cause (5.4: "Cannot read properties of undefined (reading 'config')").

import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from '../http/node-http.ts';
import { Agent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { axios as acmeAxios } from 'acme-client';

const PROBE_TIMEOUT_MS = 30_000;

export interface AcmeTrust {
  /** Agent for requests to the directory's origin; undefined uses Node's defaults. */
  readonly agent: Agent | undefined;
  /** Stops applying the extra CA to acme-client's requests. */
  detach(): void;
}

/**
 * Trusts `ca` (besides the usual roots) for acme-client's requests to the directory's
 * origin only. acme-client sends every request through one shared axios instance, so
 * an interceptor scoped by origin is the narrowest hook it offers.
 */
export function trustAcmeCa(directoryUrl: string, ca: string | undefined): AcmeTrust {
  if (ca === undefined) return { agent: undefined, detach: () => {} };
  const origin = new URL(directoryUrl).origin;
  const agent = new Agent({ ca: [...rootCertificates, ca], keepAlive: true });
  const id = acmeAxios.interceptors.request.use((config) => {
    if (config.url !== undefined && URL.canParse(config.url) && new URL(config.url).origin === origin) {
      config.httpsAgent = agent;
    }
    return config;
  });
  return {
    agent,
    detach() {
      acmeAxios.interceptors.request.eject(id);
      agent.destroy();
    },
  };
}

/** An error from reaching the directory, with the Node error code (e.g. a TLS verify code). */
export class DirectoryUnreachable extends Error {
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DirectoryUnreachable';
    this.code = code;
  }
}

/** Fetches the ACME directory once and checks that it looks like one. */
export function probeDirectory(directoryUrl: string, agent: Agent | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const https = directoryUrl.startsWith('https:');
    const onResponse = (response: IncomingMessage): void => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 64 * 1024) body += chunk;
      });
      response.on('end', () => {
        if (response.statusCode !== 200) {
          reject(new DirectoryUnreachable(`GET ${directoryUrl} answered HTTP ${response.statusCode}`, undefined));
          return;
        }
        try {
          const directory = JSON.parse(body) as { newOrder?: unknown };
          if (typeof directory.newOrder === 'string') resolve();
          else reject(new DirectoryUnreachable(`${directoryUrl} is not an ACME directory (no newOrder)`, undefined));
        } catch {
          reject(new DirectoryUnreachable(`${directoryUrl} did not answer JSON`, undefined));
        }
      });
      response.on('error', reject);
    };
    const options = { timeout: PROBE_TIMEOUT_MS, headers: { accept: 'application/json' } };
    const request = https
      ? httpsRequest(directoryUrl, agent === undefined ? options : { ...options, agent }, onResponse)
      : httpRequest(directoryUrl, options, onResponse);
    request.on('timeout', () => request.destroy(new DirectoryUnreachable(`no answer from ${directoryUrl} within ${PROBE_TIMEOUT_MS / 1000} s`, 'ETIMEDOUT')));
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof DirectoryUnreachable) reject(error);
      else reject(new DirectoryUnreachable(`GET ${directoryUrl}: ${error.message}`, error.code, { cause: error }));
    });
    request.end();
  });
}
