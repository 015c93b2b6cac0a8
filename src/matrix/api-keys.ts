// The endpoints an end-to-end encrypting client needs: device and one-time key upload,
// key queries and claims, to-device messages (with txnId idempotence), and which users'
// devices changed. The server relays public keys and encrypted messages; it decrypts
// nothing. Other nodes hear of uploads, claims and to-device messages through the key
// relay (key-relay.ts).

import type { Device } from './account-store.ts';
import type { MatrixContext } from './context.ts';
import { badJson, forbidden } from './errors.ts';
import type { Endpoint, Request } from './router.ts';
import { parseSyncToken } from './tokens.ts';
import { parseUserId } from './events.ts';

type Authed = Request & { device: Device };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Users who share a room with this one (and the user itself): whose device changes it hears of. */
export function sharingUsers(ctx: MatrixContext, userId: string): Set<string> {
  const users = new Set([userId]);
  for (const room of ctx.rooms.rooms()) {
    if (room.membership(userId) !== 'join') continue;
    for (const user of room.members('join')) users.add(user);
    for (const user of room.members('invite')) users.add(user);
  }
  return users;
}

async function upload(ctx: MatrixContext, r: Authed): Promise<Record<string, unknown>> {
  const { userId, deviceId } = r.device;
  const body = r.body;
  if (body.device_keys !== undefined) {
    const keys = body.device_keys;
    if (!isObject(keys) || keys.user_id !== userId || keys.device_id !== deviceId) throw badJson('device_keys must be an object for this user and device');
    ctx.keys.setDeviceKeys(userId, deviceId, JSON.stringify(keys));
    ctx.notifier.wake(sharingUsers(ctx, userId));
  }
  for (const [field, add] of [
    ['one_time_keys', (id: string, json: string) => ctx.keys.addOneTimeKey(userId, deviceId, id, json)],
    ['fallback_keys', (id: string, json: string) => ctx.keys.setFallbackKey(userId, deviceId, id, json)],
  ] as const) {
    const keys = body[field];
    if (keys === undefined) continue;
    if (!isObject(keys)) throw badJson(`${field} must be an object of key id to key`);
    for (const [id, key] of Object.entries(keys)) {
      if (!/^[^:]+:[^:]+$/.test(id)) throw badJson(`${field}: ${id} is not ALGORITHM:KEYID`);
      add(id, JSON.stringify(key));
    }
  }
  const relayed = Object.fromEntries(['device_keys', 'one_time_keys', 'fallback_keys'].filter((field) => body[field] !== undefined).map((field) => [field, body[field]]));
  if (Object.keys(relayed).length > 0) await ctx.keyRelay.published(userId, deviceId, relayed);
  return { one_time_key_counts: ctx.keys.oneTimeKeyCounts(userId, deviceId) };
}

function query(ctx: MatrixContext, r: Authed): Record<string, unknown> {
  const asked = r.body.device_keys;
  if (!isObject(asked)) throw badJson('device_keys must be an object of user id to device ids');
  const deviceKeys: Record<string, Record<string, unknown>> = {};
  for (const [userId, devices] of Object.entries(asked)) {
    const ids = Array.isArray(devices) ? devices.filter((d): d is string => typeof d === 'string') : [];
    deviceKeys[userId] = Object.fromEntries(ctx.keys.deviceKeys(userId, ids));
  }
  return { device_keys: deviceKeys, failures: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} };
}

async function claim(ctx: MatrixContext, r: Authed): Promise<Record<string, unknown>> {
  const asked = r.body.one_time_keys;
  if (!isObject(asked)) throw badJson('one_time_keys must be an object of user id to device id to algorithm');
  const claimed: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [userId, devices] of Object.entries(asked)) {
    if (!isObject(devices)) continue;
    for (const [deviceId, algorithm] of Object.entries(devices)) {
      if (typeof algorithm !== 'string') continue;
      const key = ctx.keys.claim(userId, deviceId, algorithm);
      if (key === undefined) continue;
      (claimed[userId] ??= {})[deviceId] = { [key.keyId]: key.json };
      if (!key.fallback) await ctx.keyRelay.claimed(userId, deviceId, key.keyId);
    }
  }
  return { one_time_keys: claimed, failures: {} };
}

async function sendToDevice(ctx: MatrixContext, r: Authed): Promise<Record<string, unknown>> {
  const { userId, deviceId } = r.device;
  const [type, txnId] = [r.params[0]!, r.params[1]!];
  const txnKey = `to-device ${txnId}`;
  if (ctx.accounts.sentEvent(userId, deviceId, txnKey) !== undefined) return {};
  const messages = r.body.messages;
  if (!isObject(messages)) throw badJson('messages must be an object of user id to device id to content');
  const woken = new Set<string>();
  for (const [target, devices] of Object.entries(messages)) {
    if (!isObject(devices)) throw badJson(`messages.${target} must be an object of device id to content`);
    for (const [targetDevice, content] of Object.entries(devices)) {
      if (!isObject(content)) throw badJson(`messages.${target}.${targetDevice} must be an object`);
      const ids = targetDevice === '*' ? [...ctx.keys.deviceKeys(target, []).keys(), ...ctx.accounts.devices(target).map((d) => d.deviceId)] : [targetDevice];
      const local = parseUserId(target)?.server === ctx.settings.serverName;
      for (const id of new Set(ids)) {
        if (local) ctx.keys.addToDevice(target, id, userId, type, content);
        else await ctx.keyRelay.toDevice(target, id, userId, type, content);
      }
      woken.add(target);
    }
  }
  ctx.accounts.rememberSent(userId, deviceId, txnKey, txnKey);
  ctx.notifier.wake(woken);
  return {};
}

export function keyEndpoints(ctx: MatrixContext): Endpoint[] {
  return [
    { method: 'POST', path: 'keys/upload', auth: 'required', handle: (r) => upload(ctx, r) },
    { method: 'POST', path: 'keys/query', auth: 'required', handle: (r) => query(ctx, r) },
    { method: 'POST', path: 'keys/claim', auth: 'required', handle: (r) => claim(ctx, r) },
    { method: 'PUT', path: 'sendToDevice/{type}/{txnId}', auth: 'required', handle: (r) => sendToDevice(ctx, r) },
    {
      method: 'GET',
      path: 'keys/changes',
      auth: 'required',
      handle: (r) => {
        const from = parseSyncToken(r.query.get('from') ?? '');
        if (from === undefined) throw badJson('from must be a sync token');
        return { changed: ctx.keys.changedSince(from.stream, () => sharingUsers(ctx, r.device.userId)), left: [] };
      },
    },
    // Cross-signing and key backup are not kept: a client that asks learns there are none.
    {
      method: 'POST',
      path: 'keys/signatures/upload',
      auth: 'required',
      handle: () => ({ failures: {} }),
    },
    {
      method: 'POST',
      path: 'keys/device_signing/upload',
      auth: 'required',
      handle: () => {
        throw forbidden('cross-signing keys are not kept by this server yet');
      },
    },
  ];
}
