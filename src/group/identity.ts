// An installation's long-term keys: created once per device (state directory), kept in
// the local database, never sent anywhere except the public halves.

import { randomBytes } from 'node:crypto';
import type { CiphersuiteImpl, Credential } from './mls.ts';
import { makeCredential } from './credential.ts';

export interface InstallationIdentity {
  readonly uid: string;
  /** 16 hex characters, random per installation. */
  readonly installation: string;
  readonly identityKey: Uint8Array;
  readonly identityPrivateKey: Uint8Array;
  /** The MLS signature key pair all of this installation's leaves use. */
  readonly signatureKey: { readonly publicKey: Uint8Array; readonly signKey: Uint8Array };
  /** The basic credential binding the signature key to the identity key. */
  readonly credential: Credential;
}

export async function createInstallationIdentity(cs: CiphersuiteImpl, uid: string, installation = randomBytes(8).toString('hex')): Promise<InstallationIdentity> {
  const identity = await cs.signature.keygen();
  const signatureKey = await cs.signature.keygen();
  const credential = await makeCredential(
    cs.signature,
    { uid, installation, identityKey: identity.publicKey, identityPrivateKey: identity.signKey },
    signatureKey.publicKey,
  );
  return { uid, installation, identityKey: identity.publicKey, identityPrivateKey: identity.signKey, signatureKey, credential };
}
