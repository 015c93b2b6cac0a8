// Static files as the Mles reference serves them: `{wwwroot}/{Host}/{path}` when the
// node has domains (and only for those hosts), `{wwwroot}/{path}` otherwise, and the
// chat page shipped in the package when no wwwroot is given. Nothing outside the root
// is ever served: traversal is refused before the file system is touched, and
// symlinks are resolved and checked again.

import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
};

export type StaticLookup =
  | { readonly ok: true; readonly root: string; readonly relative: string }
  | { readonly ok: false; readonly status: 400 | 403 | 404; readonly message: string };

/** Maps a request's Host and path to a root and a relative file path, or a refusal. Pure. */
export function resolveStaticPath(options: {
  readonly root: string;
  readonly perHost: boolean;
  readonly domains: readonly string[];
  readonly host: string | undefined;
  readonly url: string;
}): StaticLookup {
  let root = options.root;
  if (options.perHost) {
    const host = (options.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (!options.domains.includes(host)) return { ok: false, status: 404, message: 'unknown host' };
    root = join(root, host);
  }
  const pathname = options.url.split('?')[0]?.split('#')[0] ?? '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return { ok: false, status: 400, message: 'malformed path' };
  }
  if (decoded.includes('\0')) return { ok: false, status: 400, message: 'malformed path' };
  const segments = decoded.split(/[/\\]+/).filter((s) => s.length > 0);
  if (segments.some((s) => s === '..' || s === '.')) return { ok: false, status: 403, message: 'forbidden path' };
  const relative = segments.join('/');
  const full = resolve(root, relative);
  if (full !== resolve(root) && !full.startsWith(resolve(root) + sep)) {
    return { ok: false, status: 403, message: 'forbidden path' };
  }
  return { ok: true, root, relative };
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(message) + 1 });
  res.end(message + '\n');
}

export async function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  options: { root: string; perHost: boolean; domains: readonly string[] },
): Promise<void> {
  const lookup = resolveStaticPath({ ...options, host: req.headers.host, url: req.url ?? '/' });
  if (!lookup.ok) return answer(res, lookup.status, lookup.message);
  let file = resolve(lookup.root, lookup.relative);
  try {
    let info = await stat(file);
    if (info.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file);
    }
    if (!info.isFile()) return answer(res, 404, 'not found');
    // A symlink inside the root may point anywhere: check where it really leads.
    const [realRoot, realFile] = await Promise.all([realpath(lookup.root), realpath(file)]);
    if (!realFile.startsWith(realRoot + sep)) return answer(res, 403, 'forbidden path');
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': info.size,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(realFile)
      .on('error', () => res.destroy())
      .pipe(res);
  } catch {
    answer(res, 404, 'not found');
  }
}
