// Publishing over HTTP, for tools that only need to post:
//   POST /v1/channels/{channel}/messages?uid=U&auth=A&cid=C
// The body is the payload: `content-type: text/plain` makes a text message (the body must
// then be UTF-8, as a WebSocket text frame must), anything else a binary one. It goes
// through the hub like every other publish, so Mles and native members of the channel get it.
// A retry with the same cid from the same uid gets the first result, `duplicate: true`.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { authAccepted, isAuthText, MAX_AUTH_DIGITS } from '../access/auth.ts';
import { GATEWAY_CHANNEL_RULE, isGatewayChannel } from '../access/gateway-channels.ts';
import { isName, NAME_RULE } from '../access/names.ts';
import type { PublishCallback } from '../hub/hub.ts';
import { MAX_TOKEN_LENGTH } from '../native/frames.ts';
import type { AppendRequest } from '../store/store.ts';
import { StoreError } from '../store/store-error.ts';
import type { Route } from './handlers.ts';
import { AUTH_FAILED, channelOf, MESSAGES_PATH, readBody, sendJson, unknownParameter, utf8Text } from './request.ts';

/** What the route needs of the hub: a hub has this shape. */
export interface Publisher {
  publish(request: AppendRequest, except: undefined, done: PublishCallback): void;
}

export interface PublishTarget {
  readonly channel: string;
  readonly uid: string;
  readonly auth: string | undefined;
  readonly cid: string | undefined;
}

export type ParsedPublish =
  | { readonly ok: true; readonly target: PublishTarget }
  | { readonly ok: false; readonly status: 400 | 404; readonly error: string };

export const PUBLISH_PARAMETERS: readonly string[] = ['uid', 'auth', 'cid'];

/** Parses a publish's request target, or says what is wrong with it. Pure. */
export function parsePublishRequest(target: string): ParsedPublish {
  const url = new URL(target, 'http://node.invalid');
  const match = MESSAGES_PATH.exec(url.pathname);
  if (!match) return { ok: false, status: 404, error: 'no such endpoint: POST to /v1/channels/{channel}/messages' };
  const named = channelOf(match);
  if (!named.ok) return named;
  const { channel } = named;
  const params = url.searchParams;
  const unknown = unknownParameter(params, PUBLISH_PARAMETERS);
  if (unknown !== undefined) return { ok: false, status: 400, error: unknown };
  const uid = params.get('uid');
  if (uid === null) return { ok: false, status: 400, error: 'uid is required' };
  if (!isName(uid)) return { ok: false, status: 400, error: `uid must be ${NAME_RULE}` };
  const auth = params.get('auth') ?? undefined;
  if (auth !== undefined && !isAuthText(auth)) return { ok: false, status: 400, error: `auth must be 1-${MAX_AUTH_DIGITS} hex digits` };
  const cid = params.get('cid') ?? undefined;
  if (cid !== undefined && (cid.length === 0 || cid.length > MAX_TOKEN_LENGTH)) {
    return { ok: false, status: 400, error: `cid must be 1-${MAX_TOKEN_LENGTH} characters` };
  }
  return { ok: true, target: { channel, uid, auth, cid } };
}

/** Whether a content type makes a text message: text/plain, with any parameters. */
export function isTextPlain(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';')[0]!.trim().toLowerCase() === 'text/plain';
}

/** Publishing as a route: POST to /v1/channels/{channel}/messages. */
export function publishApi(hub: Publisher, mlesKey: string | undefined, maxMessage: number): Route {
  return {
    paths: ['/v1/channels/{channel}/messages'],
    methods: ['POST'],
    matches: (path) => MESSAGES_PATH.test(path),
    handle: (req, res) => servePublish(req, res, hub, mlesKey, maxMessage),
  };
}

export async function servePublish(
  req: IncomingMessage,
  res: ServerResponse,
  hub: Publisher,
  mlesKey: string | undefined,
  maxMessage: number,
): Promise<void> {
  const parsed = parsePublishRequest(req.url ?? '/');
  if (!parsed.ok) return sendJson(res, parsed.status, { error: parsed.error }, true);
  const { channel, uid, auth, cid } = parsed.target;
  if ((auth !== undefined || mlesKey !== undefined) && !authAccepted(uid, channel, auth, mlesKey)) {
    return sendJson(res, 401, AUTH_FAILED, true);
  }
  if (isGatewayChannel(channel)) return sendJson(res, 403, { error: `${channel} is read-only: ${GATEWAY_CHANNEL_RULE}` }, true);
  const tooLarge = { error: `the message is larger than this node's limit of ${maxMessage} bytes` };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxMessage) return sendJson(res, 413, tooLarge, true);
  const payload = await readBody(req, maxMessage);
  if (payload === undefined) return sendJson(res, 413, tooLarge, true);
  const binary = !isTextPlain(req.headers['content-type']);
  if (!binary && utf8Text(payload) === undefined) {
    return sendJson(res, 400, { error: 'a text/plain body must be UTF-8; send other bytes as application/octet-stream' });
  }
  const result = await new Promise<Parameters<PublishCallback>[0]>((resolve) => hub.publish({ channel, uid, binary, payload, cid }, undefined, resolve));
  if (result instanceof StoreError) throw result; // answered 503 with its storeCode by the routes
  if (result instanceof Error) throw result;
  const { message } = result;
  sendJson(res, 201, { seq: message.seq, id: Buffer.from(message.id).toString('hex'), ts: message.ts, duplicate: result.duplicate });
}
