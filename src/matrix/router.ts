// The client-server API's front door: which handler a request goes to, with its path
// parameters decoded one segment at a time (`%21room%3Aserver` is one segment), the
// access token from the header or the `access_token` parameter, the JSON body read
// within a limit, CORS for web clients, and every failure answered as a Matrix error.
// Served under /_matrix/client/{v3,r0,v1,unstable}/ alike.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readBody } from '../http/request.ts';
import type { Device } from './account-store.ts';
import { MatrixError, missingToken, tooLarge, unknownToken, unrecognized } from './errors.ts';

export type AuthNeed = 'required' | 'optional' | 'none';

export interface Request {
  readonly method: string;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** The parsed JSON body ({} when there is none). */
  readonly body: Record<string, unknown>;
  readonly device: Device | undefined;
  /** Aborts when the client goes away (a long-poll then stops waiting). */
  readonly signal: AbortSignal;
  readonly address: string;
  readonly host: string | undefined;
}

/** A handler's answer: a JSON body with 200, or another status. */
export type Reply = Record<string, unknown> | { readonly status: number; readonly json: Record<string, unknown> } | JsonText;

/** A 200 answer already serialised (a /sync answer assembled from shared parts). */
export class JsonText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export interface Endpoint {
  readonly method: string;
  /** Path after the version, segments split by `/`; `{name}` takes one decoded segment. */
  readonly path: string;
  readonly auth: AuthNeed;
  handle(request: Request & { device: Device }): Promise<Reply> | Reply;
}

interface CompiledEndpoint extends Endpoint {
  readonly segments: readonly string[];
}

export const CLIENT_PREFIX = '/_matrix/client/';
const VERSIONS = new Set(['v3', 'r0', 'v1', 'unstable']);

export interface RouterOptions {
  readonly endpoints: readonly Endpoint[];
  readonly deviceOf: (token: string) => Device | undefined;
  readonly log: Logger;
  /** Largest request body taken. */
  readonly maxBody: number;
  /** Paths outside /_matrix/client/, answered without a version (versions, well-known). */
  readonly unversioned: ReadonlyMap<string, (request: Request) => Reply>;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'Origin, X-Requested-With, Content-Type, Accept, Authorization',
};

export function sendMatrixJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = body instanceof JsonText ? body.text : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...CORS });
  res.end(text);
}

/** Splits a path after `/_matrix/client/VERSION/` into decoded segments; undefined for bad percent-encoding. */
export function decodeSegments(rest: string): string[] | undefined {
  try {
    return rest.split('/').map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined;
  }
}

/** The parameters a path gives an endpoint, or undefined when it does not match. */
export function matchSegments(pattern: readonly string[], segments: readonly string[]): string[] | undefined {
  if (pattern.length !== segments.length) {
    // A trailing slash (`/pushrules/`) matches the path without it.
    if (!(segments.length === pattern.length + 1 && segments.at(-1) === '')) return undefined;
  }
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]!;
    if (part.startsWith('{')) {
      if (segments[i] === '') return undefined;
      params.push(segments[i]!);
    } else if (part !== segments[i]) return undefined;
  }
  return params;
}

function tokenOf(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match !== null) return match[1];
  }
  return query.get('access_token') ?? undefined;
}

async function readJsonBody(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    throw tooLarge(max);
  }
  const body = await readBody(req, max);
  if (body === undefined) throw tooLarge(max);
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new MatrixError(400, 'M_NOT_JSON', 'the request body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MatrixError(400, 'M_BAD_JSON', 'the request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export class MatrixRouter {
  /**
   * Endpoints by the first segment of their path, in the order given, so that a request
   * (every long-poll of every client) is matched against a few paths, not all of them.
   */
  readonly #byFirstSegment = new Map<string, CompiledEndpoint[]>();
  /** Endpoints whose path starts with a parameter: tried after those of a literal first segment. */
  readonly #parameterFirst: CompiledEndpoint[] = [];
  readonly #options: RouterOptions;

  constructor(options: RouterOptions) {
    this.#options = options;
    for (const endpoint of options.endpoints) {
      const compiled = { ...endpoint, segments: endpoint.path.split('/') };
      const first = compiled.segments[0]!;
      if (first.startsWith('{')) {
        this.#parameterFirst.push(compiled);
        continue;
      }
      let list = this.#byFirstSegment.get(first);
      if (list === undefined) this.#byFirstSegment.set(first, (list = []));
      list.push(compiled);
    }
  }

  #candidates(segments: readonly string[]): Iterable<CompiledEndpoint> {
    const literal = this.#byFirstSegment.get(segments[0]!);
    if (this.#parameterFirst.length === 0) return literal ?? [];
    return literal === undefined ? this.#parameterFirst : [...literal, ...this.#parameterFirst];
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const abort = new AbortController();
    // Only a client that went away aborts: an abort makes a DOMException, and every answer closes.
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const reply = await this.#answer(req, abort.signal);
      if ('status' in reply && typeof reply.status === 'number' && 'json' in reply) sendMatrixJson(res, reply.status, reply.json);
      else sendMatrixJson(res, 200, reply);
    } catch (error) {
      if (error instanceof MatrixError) {
        sendMatrixJson(res, error.status, error.body());
        return;
      }
      this.#options.log.error({ err: error, url: req.url?.split('?')[0] }, 'matrix request failed');
      sendMatrixJson(res, 500, { errcode: 'M_UNKNOWN', error: 'the server failed to answer this request; it was logged' });
    }
  }

  async #answer(req: IncomingMessage, signal: AbortSignal): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://matrix.invalid');
    const method = req.method ?? 'GET';
    const base = {
      query: url.searchParams,
      signal,
      address: req.socket.remoteAddress ?? '',
      host: req.headers.host,
      method,
    };
    if (method === 'OPTIONS') return {};
    const plain = this.#options.unversioned.get(url.pathname);
    if (plain !== undefined) return plain({ ...base, params: [], body: {}, device: undefined });
    const rest = url.pathname.slice(CLIENT_PREFIX.length);
    const slash = rest.indexOf('/');
    const version = slash < 0 ? rest : rest.slice(0, slash);
    if (!VERSIONS.has(version) || slash < 0) throw unrecognized(method, url.pathname);
    const segments = decodeSegments(rest.slice(slash + 1));
    if (segments === undefined) throw new MatrixError(400, 'M_INVALID_PARAM', 'a path segment is not valid percent-encoding');
    let pathMatched = false;
    for (const endpoint of this.#candidates(segments)) {
      const params = matchSegments(endpoint.segments, segments);
      if (params === undefined) continue;
      pathMatched = true;
      if (endpoint.method !== method) continue;
      const token = tokenOf(req, url.searchParams);
      let device: Device | undefined;
      if (token !== undefined && endpoint.auth !== 'none') {
        device = this.#options.deviceOf(token);
        if (device === undefined) throw unknownToken();
      } else if (endpoint.auth === 'required') throw missingToken();
      const body = method === 'GET' || method === 'HEAD' ? {} : await readJsonBody(req, this.#options.maxBody);
      return endpoint.handle({ ...base, params, body, device: device! });
    }
    if (pathMatched) throw new MatrixError(405, 'M_UNRECOGNIZED', `${method} is not allowed on ${url.pathname}`);
    throw unrecognized(method, url.pathname);
  }
}
