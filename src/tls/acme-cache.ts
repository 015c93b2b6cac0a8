// The ACME cache directory: the account key and, per set of domains, the certificate
// key and chain, as PEM files. Everything sits under a folder named after the ACME
// directory URL, so a staging or test certificate is never served as a production one.
//
//   CACHE/acme-v02.api.letsencrypt.org_directory/account.key.pem
//   CACHE/acme-v02.api.letsencrypt.org_directory/example.com+www.example.com.key.pem
//   CACHE/acme-v02.api.letsencrypt.org_directory/example.com+www.example.com.cert.pem

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CachedPair {
  readonly key: string;
  readonly cert: string;
}

/** Folder name for an ACME directory URL: host, port and path, filesystem-safe. */
export function directorySlug(directoryUrl: string): string {
  const url = new URL(directoryUrl);
  return `${url.host}${url.pathname}`.replace(/[^a-zA-Z0-9.-]+/g, '_').replace(/_+$/, '');
}

/** File stem for a set of domains, independent of their order on the command line. */
export function domainSetSlug(domains: readonly string[]): string {
  const sorted = [...new Set(domains)].sort();
  const joined = sorted.join('+');
  if (joined.length <= 120) return joined;
  const hash = createHash('sha256').update(sorted.join(',')).digest('hex').slice(0, 16);
  return `${sorted[0] ?? 'domains'}+${sorted.length - 1}-more-${hash}`;
}

export class AcmeCache {
  readonly dir: string;
  private readonly stem: string;

  constructor(cacheDir: string, directoryUrl: string, domains: readonly string[]) {
    this.dir = join(cacheDir, directorySlug(directoryUrl));
    this.stem = domainSetSlug(domains);
  }

  get accountKeyFile(): string {
    return join(this.dir, 'account.key.pem');
  }

  get keyFile(): string {
    return join(this.dir, `${this.stem}.key.pem`);
  }

  get certFile(): string {
    return join(this.dir, `${this.stem}.cert.pem`);
  }

  /** The account key, created with `create` and saved on first use. */
  async accountKey(create: () => Promise<string>): Promise<string> {
    const existing = await readIfExists(this.accountKeyFile);
    if (existing !== undefined) return existing;
    const key = await create();
    await this.write(this.accountKeyFile, key, 0o600);
    return key;
  }

  /** The cached certificate and its key, if both files exist (unchecked). */
  async loadCertificate(): Promise<CachedPair | undefined> {
    const [key, cert] = await Promise.all([readIfExists(this.keyFile), readIfExists(this.certFile)]);
    return key === undefined || cert === undefined ? undefined : { key, cert };
  }

  async saveCertificate(pair: CachedPair): Promise<void> {
    await this.write(this.keyFile, pair.key, 0o600);
    await this.write(this.certFile, pair.cert, 0o644);
  }

  /** Write-then-rename, so a crash never leaves half a PEM file behind. */
  private async write(file: string, contents: string, mode: number): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, contents, { mode });
    await rename(temp, file);
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
