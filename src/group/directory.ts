// The key-package directory, built on relay channels (see channels.ts): each installation
// announces itself (identity key, self-signed) in mls/dir/<uid> and offers key packages
// in mls/kp/<uid>/<installation>. A key package used by a Welcome is retired there and
// replaced. Adders pick a live (unretired) key package, or the newest one as a last
// resort; this installation keeps every private key package, so a key package picked
// by two adders at once still works for both.

import { channels } from './channels.ts';
import { identityOf } from './credential.ts';
import {
  decodeDirectoryRecord,
  decodeKeyPackageRecord,
  directorySignedBytes,
  encodeDirectoryRecord,
  encodeKeyPackageRecord,
} from './envelope.ts';
import { GroupError } from './errors.ts';
import type { InstallationIdentity } from './identity.ts';
import type { LocalState } from './local-state.ts';
import { createKeyPackage, decodeKeyPackage, keyPackageRef, type CiphersuiteImpl } from './mls.ts';
import type { KeyPackage } from 'ts-mls';
import { readAll, type Relay } from './relay.ts';

/** Live key packages each installation keeps offered. */
export const KEY_PACKAGES_OFFERED = 3;

export interface InstallationOffer {
  readonly uid: string;
  readonly installation: string;
  readonly keyPackage: KeyPackage;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export class KeyPackageDirectory {
  readonly #relay: Relay;
  readonly #local: LocalState;
  readonly #cs: CiphersuiteImpl;

  constructor(relay: Relay, local: LocalState, cs: CiphersuiteImpl) {
    this.#relay = relay;
    this.#local = local;
    this.#cs = cs;
  }

  /**
   * Makes sure the directory record, enough live key packages and every retirement are
   * on the relay. Each step is stored before it is sent and re-sent with the same cid
   * after a crash, so it is safe to call at every start.
   */
  async publishOwn(identity: InstallationIdentity): Promise<void> {
    const { uid, installation } = identity;
    if (this.#local.getMeta('directory-published') !== '1') {
      const signature = await this.#cs.signature.sign(identity.identityPrivateKey, directorySignedBytes(uid, installation, identity.identityKey));
      const record = encodeDirectoryRecord({ installation, identityKey: identity.identityKey, signature });
      await this.#relay.publish(channels.directory(uid), record, `${installation}-dir`);
      this.#local.setMeta('directory-published', '1');
    }
    const live = this.#local.keyPackages('new').length + this.#local.keyPackages('published').length;
    for (let i = live; i < KEY_PACKAGES_OFFERED; i++) {
      const material = await createKeyPackage(this.#cs, identity.credential, identity.signatureKey);
      this.#local.addKeyPackage(material.ref, material.publicBytes, material.privateBytes);
    }
    const channel = channels.keyPackages(uid, installation);
    for (const kp of this.#local.keyPackages('new')) {
      await this.#relay.publish(channel, encodeKeyPackageRecord({ kind: 'offer', keyPackage: kp.publicBytes }), `${installation}-kp-${hex(kp.ref).slice(0, 32)}`);
      this.#local.setKeyPackageState(kp.ref, 'published');
    }
    for (const kp of this.#local.keyPackages('used')) {
      await this.#relay.publish(channel, encodeKeyPackageRecord({ kind: 'retire', ref: kp.ref }), `${installation}-retire-${hex(kp.ref).slice(0, 32)}`);
      this.#local.setKeyPackageState(kp.ref, 'retired');
    }
  }

  /** Notes that a Welcome used one of our key packages; publishOwn then replaces it. */
  markUsed(ref: Uint8Array): void {
    const kp = this.#local.keyPackage(ref);
    if (kp !== undefined && (kp.state === 'published' || kp.state === 'new')) this.#local.setKeyPackageState(ref, 'used');
  }

  /** Installations of uid with a key package to add each of them by. */
  async lookup(uid: string): Promise<InstallationOffer[]> {
    const installations = await this.#installations(uid);
    const offers: InstallationOffer[] = [];
    for (const [installation, identityKey] of installations) {
      const keyPackage = await this.#pickKeyPackage(uid, installation, identityKey);
      if (keyPackage !== undefined) offers.push({ uid, installation, keyPackage });
    }
    if (offers.length === 0) throw new GroupError('NO_KEY_PACKAGES', `"${uid}" has no published key packages: it has to run a group command (e.g. parley group init) first`);
    return offers;
  }

  async #installations(uid: string): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    for await (const page of readAll(this.#relay, channels.directory(uid), 0)) {
      for (const message of page) {
        // The node says who published: only uid itself may announce its installations.
        if (message.from !== uid) continue;
        const record = decodeDirectoryRecord(message.payload);
        if (record === undefined || found.has(record.installation)) continue;
        const signed = directorySignedBytes(uid, record.installation, record.identityKey);
        if (!(await this.#cs.signature.verify(record.identityKey, signed, record.signature).catch(() => false))) continue;
        this.#local.pin(uid, record.installation, record.identityKey);
        const pinned = this.#local.pinned(uid, record.installation);
        if (pinned !== undefined && sameBytes(pinned, record.identityKey)) found.set(record.installation, pinned);
      }
    }
    return found;
  }

  async #pickKeyPackage(uid: string, installation: string, identityKey: Uint8Array): Promise<KeyPackage | undefined> {
    const offers: Array<{ keyPackage: KeyPackage; ref: string }> = [];
    const retired = new Set<string>();
    for await (const page of readAll(this.#relay, channels.keyPackages(uid, installation), 0)) {
      for (const message of page) {
        if (message.from !== uid) continue;
        const record = decodeKeyPackageRecord(message.payload);
        if (record?.kind === 'retire') retired.add(hex(record.ref));
        if (record?.kind !== 'offer') continue;
        const keyPackage = decodeKeyPackage(record.keyPackage);
        const claimed = keyPackage === undefined ? undefined : identityOf(keyPackage.leafNode.credential);
        if (keyPackage === undefined || claimed?.uid !== uid || claimed.installation !== installation || !sameBytes(claimed.identityKey, identityKey)) continue;
        offers.push({ keyPackage, ref: hex(await keyPackageRef(this.#cs, keyPackage)) });
      }
    }
    const live = offers.filter((o) => !retired.has(o.ref));
    if (live.length > 0) return live[Math.floor(Math.random() * live.length)]!.keyPackage;
    return offers.at(-1)?.keyPackage;
  }
}
