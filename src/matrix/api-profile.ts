// Profiles: display name and avatar url, each change also a new m.room.member event
// in every room the user is in (clients read names from there).

import type { MatrixContext } from './context.ts';
import { badJson, forbidden, notFound } from './errors.ts';
import { memberContent } from './membership.ts';
import type { Endpoint, Reply, Request } from './router.ts';

type Field = 'displayname' | 'avatar_url';

/** A user's profile: this server's own users from the account store, others from a room both share. */
function profileOf(ctx: MatrixContext, userId: string): { displayname?: string; avatar_url?: string } {
  const local = ctx.accounts.profile(userId);
  if (local !== undefined || ctx.accounts.userExists(userId)) {
    return { ...(local?.displayname ? { displayname: local.displayname } : {}), ...(local?.avatar_url ? { avatar_url: local.avatar_url } : {}) };
  }
  for (const room of ctx.rooms.rooms()) {
    const member = room.stateEvent('m.room.member', userId);
    if (member === undefined) continue;
    const { displayname, avatar_url } = member.content;
    return { ...(typeof displayname === 'string' ? { displayname } : {}), ...(typeof avatar_url === 'string' ? { avatar_url } : {}) };
  }
  throw notFound(`no profile for ${userId} here`);
}

async function setField(ctx: MatrixContext, r: Request & { device: { userId: string } }, field: Field): Promise<Reply> {
  const userId = r.params[0]!;
  if (userId !== r.device.userId) throw forbidden('a user can only change their own profile');
  const value = r.body[field];
  if (value !== null && value !== undefined && typeof value !== 'string') throw badJson(`${field} must be a string`);
  if (typeof value === 'string' && value.length > 256) throw badJson(`${field} is longer than 256 characters`);
  ctx.accounts.setProfile(userId, field, typeof value === 'string' ? value : null);
  for (const room of ctx.rooms.rooms()) {
    if (room.membership(userId) !== 'join') continue;
    await ctx.rooms.send({ type: 'm.room.member', room_id: room.roomId, sender: userId, state_key: userId, content: memberContent(ctx, userId, 'join') });
  }
  return {};
}

export function profileEndpoints(ctx: MatrixContext): Endpoint[] {
  return [
    { method: 'GET', path: 'profile/{userId}', auth: 'optional', handle: (r) => profileOf(ctx, r.params[0]!) },
    {
      method: 'GET',
      path: 'profile/{userId}/displayname',
      auth: 'optional',
      handle: (r) => {
        const profile = profileOf(ctx, r.params[0]!);
        return profile.displayname === undefined ? {} : { displayname: profile.displayname };
      },
    },
    {
      method: 'GET',
      path: 'profile/{userId}/avatar_url',
      auth: 'optional',
      handle: (r) => {
        const profile = profileOf(ctx, r.params[0]!);
        return profile.avatar_url === undefined ? {} : { avatar_url: profile.avatar_url };
      },
    },
    { method: 'PUT', path: 'profile/{userId}/displayname', auth: 'required', handle: (r) => setField(ctx, r, 'displayname') },
    { method: 'PUT', path: 'profile/{userId}/avatar_url', auth: 'required', handle: (r) => setField(ctx, r, 'avatar_url') },
  ];
}
