// Accounts: registration (the dummy flow, a registration token, guests), password login
// with either identifier style, logout, whoami and devices.

import { randomBytes } from 'node:crypto';
import type { MatrixContext } from './context.ts';
import { forbidden, MatrixError, missingParam, notFound } from './errors.ts';
import { isValidLocalpart, parseUserId } from './events.ts';
import { hashPassword, passwordMatches } from './passwords.ts';
import type { Endpoint, Reply, Request } from './router.ts';
import { newAccessToken, newDeviceId } from './tokens.ts';

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new MatrixError(400, 'M_BAD_JSON', `${field} must be a string`);
  return value;
}

function session(ctx: MatrixContext, flows: string[][]): MatrixError {
  return new MatrixError(401, 'M_FORBIDDEN', 'registration needs an auth stage: send auth with one of the flows', {
    flows: flows.map((stages) => ({ stages })),
    params: {},
    session: randomBytes(12).toString('base64url'),
    completed: [],
  });
}

function registrationFlow(ctx: MatrixContext): string {
  return ctx.settings.registration === 'token' ? 'm.login.registration_token' : 'm.login.dummy';
}

/** Checks the auth stage of a registration; throws the 401 that lists the flow when it is missing. */
function checkRegistrationAuth(ctx: MatrixContext, body: Record<string, unknown>): void {
  const flow = registrationFlow(ctx);
  const auth = body.auth;
  if (typeof auth !== 'object' || auth === null || (auth as { type?: unknown }).type === undefined) throw session(ctx, [[flow]]);
  const { type, token } = auth as { type?: unknown; token?: unknown };
  if (type !== flow) throw new MatrixError(401, 'M_FORBIDDEN', `this server registers with ${flow}, not ${String(type)}`, { flows: [{ stages: [flow] }], params: {} });
  if (flow === 'm.login.registration_token' && token !== ctx.settings.registrationToken) {
    throw new MatrixError(401, 'M_FORBIDDEN', 'the registration token is not the one this server takes: ask its operator', { flows: [{ stages: [flow] }], params: {} });
  }
}

function startSession(ctx: MatrixContext, userId: string, body: Record<string, unknown>): Reply {
  const deviceId = optionalString(body, 'device_id') ?? newDeviceId();
  const token = newAccessToken();
  ctx.accounts.addDevice(token, userId, deviceId, optionalString(body, 'initial_device_display_name') ?? null, ctx.now());
  return { user_id: userId, access_token: token, device_id: deviceId, home_server: ctx.settings.serverName };
}

async function register(ctx: MatrixContext, request: Request): Promise<Reply> {
  const guest = request.query.get('kind') === 'guest';
  if (ctx.settings.registration === 'closed') throw forbidden('registration is closed on this server: ask its operator for an account');
  const body = request.body;
  if (guest) {
    ctx.loginLimit.take(`register ${request.address}`);
    if (ctx.settings.registration === 'token') throw forbidden('guest access is off on this server (registration needs a token)');
    const userId = `@guest-${randomBytes(6).toString('hex')}:${ctx.settings.serverName}`;
    ctx.accounts.createUser(userId, null, true, ctx.now());
    return startSession(ctx, userId, body);
  }
  const username = optionalString(body, 'username');
  const password = optionalString(body, 'password');
  if (username !== undefined) validateLocalpart(username);
  checkRegistrationAuth(ctx, body);
  // Counted once the auth stage is done: the 401 round trip every client makes first is free.
  ctx.loginLimit.take(`register ${request.address}`);
  const localpart = username ?? `user-${randomBytes(6).toString('hex')}`;
  const userId = `@${localpart}:${ctx.settings.serverName}`;
  if (ctx.accounts.userExists(userId)) throw new MatrixError(400, 'M_USER_IN_USE', `${userId} is taken: choose another user name`);
  const hash = password === undefined ? null : await hashPassword(password);
  if (!ctx.accounts.createUser(userId, hash, false, ctx.now())) throw new MatrixError(400, 'M_USER_IN_USE', `${userId} is taken: choose another user name`);
  if (body.inhibit_login === true) return { user_id: userId, home_server: ctx.settings.serverName };
  return startSession(ctx, userId, body);
}

function validateLocalpart(localpart: string): void {
  if (!isValidLocalpart(localpart)) {
    throw new MatrixError(400, 'M_INVALID_USERNAME', 'a user name may have only a-z, 0-9 and . _ = - / + (lowercase), at most 200 characters');
  }
}

function loginUser(ctx: MatrixContext, body: Record<string, unknown>): string {
  const identifier = body.identifier;
  let user: unknown = body.user;
  if (typeof identifier === 'object' && identifier !== null) {
    const { type, user: named } = identifier as { type?: unknown; user?: unknown };
    if (type !== 'm.id.user') throw new MatrixError(400, 'M_UNKNOWN', `identifier type ${String(type)} is not supported: use m.id.user`);
    user = named;
  }
  if (typeof user !== 'string' || user.length === 0) throw missingParam('login needs identifier.user (or user): the user name or id');
  const parsed = parseUserId(user);
  return parsed === undefined ? `@${user.toLowerCase()}:${ctx.settings.serverName}` : user;
}

async function login(ctx: MatrixContext, request: Request): Promise<Reply> {
  ctx.loginLimit.take(`login ${request.address}`);
  const body = request.body;
  if (body.type !== 'm.login.password') throw new MatrixError(400, 'M_UNKNOWN', `login type ${String(body.type)} is not supported: use m.login.password`);
  const userId = loginUser(ctx, body);
  const password = optionalString(body, 'password');
  if (password === undefined) throw missingParam('login needs a password');
  const hash = ctx.accounts.passwordHash(userId);
  if (hash === undefined || hash === null || !(await passwordMatches(password, hash))) throw forbidden('wrong user name or password');
  return startSession(ctx, userId, body);
}

export function accountEndpoints(ctx: MatrixContext): Endpoint[] {
  return [
    { method: 'POST', path: 'register', auth: 'none', handle: (r) => register(ctx, r) },
    {
      method: 'GET',
      path: 'register/available',
      auth: 'none',
      handle: (r) => {
        const username = r.query.get('username');
        if (username === null) throw missingParam('give ?username=');
        validateLocalpart(username);
        if (ctx.accounts.userExists(`@${username}:${ctx.settings.serverName}`)) throw new MatrixError(400, 'M_USER_IN_USE', `${username} is taken`);
        return { available: true };
      },
    },
    { method: 'GET', path: 'login', auth: 'none', handle: () => ({ flows: [{ type: 'm.login.password' }] }) },
    { method: 'POST', path: 'login', auth: 'none', handle: (r) => login(ctx, r) },
    {
      method: 'POST',
      path: 'logout',
      auth: 'required',
      handle: async (r) => {
        ctx.accounts.removeDevice(r.device.userId, r.device.deviceId);
        ctx.keys.removeDevice(r.device.userId, r.device.deviceId);
        await ctx.keyRelay.published(r.device.userId, r.device.deviceId, { removed: true });
        return {};
      },
    },
    {
      method: 'POST',
      path: 'logout/all',
      auth: 'required',
      handle: async (r) => {
        for (const device of ctx.accounts.devices(r.device.userId)) {
          ctx.keys.removeDevice(device.userId, device.deviceId);
          await ctx.keyRelay.published(device.userId, device.deviceId, { removed: true });
        }
        ctx.accounts.removeAllTokens(r.device.userId);
        return {};
      },
    },
    {
      method: 'GET',
      path: 'account/whoami',
      auth: 'required',
      handle: (r) => ({ user_id: r.device.userId, device_id: r.device.deviceId, is_guest: ctx.accounts.isGuest(r.device.userId) }),
    },
    {
      method: 'GET',
      path: 'devices',
      auth: 'required',
      handle: (r) => ({ devices: ctx.accounts.devices(r.device.userId).map(deviceJson) }),
    },
    {
      method: 'GET',
      path: 'devices/{deviceId}',
      auth: 'required',
      handle: (r) => {
        const device = ctx.accounts.devices(r.device.userId).find((d) => d.deviceId === r.params[0]);
        if (device === undefined) throw notFound(`no device ${r.params[0]}`);
        return deviceJson(device);
      },
    },
    {
      method: 'PUT',
      path: 'devices/{deviceId}',
      auth: 'required',
      handle: (r) => {
        const name = optionalString(r.body, 'display_name');
        if (name !== undefined && !ctx.accounts.renameDevice(r.device.userId, r.params[0]!, name)) throw notFound(`no device ${r.params[0]}`);
        return {};
      },
    },
    {
      method: 'DELETE',
      path: 'devices/{deviceId}',
      auth: 'required',
      handle: async (r) => {
        if (!ctx.accounts.removeDevice(r.device.userId, r.params[0]!)) throw notFound(`no device ${r.params[0]}`);
        ctx.keys.removeDevice(r.device.userId, r.params[0]!);
        await ctx.keyRelay.published(r.device.userId, r.params[0]!, { removed: true });
        return {};
      },
    },
  ];
}

function deviceJson(device: { deviceId: string; displayName: string | null; lastSeen: number }): Record<string, unknown> {
  return { device_id: device.deviceId, display_name: device.displayName, last_seen_ts: device.lastSeen };
}
