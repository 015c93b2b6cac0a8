// Member credentials and the authentication service that checks them.
//
// Each installation has a long-term identity key (Ed25519) and an MLS signature key. Its
// MLS credential is a basic credential whose identity bytes carry the uid, the
// installation id, the identity public key and the identity key's signature over
// (uid, installation, MLS signature public key). So a leaf's signature key is bound to
// an identity key, and a leaf cannot claim someone else's identity key without that
// key's signature. Which identity key belongs to (uid, installation) is pinned on first
// sight (from the directory or a group) and never silently replaced afterwards.

import { Decoder, Encoder } from 'cbor-x';
import type { AuthenticationService, Credential, Signature } from 'ts-mls';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });
const CREDENTIAL_VERSION = 1;
const BINDING_LABEL = 'parley-mls-binding-v1';

/** Who a leaf claims to be, once its credential has been checked. */
export interface MemberIdentity {
  readonly uid: string;
  readonly installation: string;
  readonly identityKey: Uint8Array;
}

interface CredentialFields extends MemberIdentity {
  readonly binding: Uint8Array;
}

/** Pinned identity keys by (uid, installation): trust on first use. */
export interface IdentityPins {
  pinned(uid: string, installation: string): Uint8Array | undefined;
  pin(uid: string, installation: string, identityKey: Uint8Array): void;
}

export function bindingMessage(uid: string, installation: string, signaturePublicKey: Uint8Array): Uint8Array {
  // uid and installation are printable ASCII, so NUL separators are unambiguous.
  const prefix = new TextEncoder().encode(`${BINDING_LABEL}\0${uid}\0${installation}\0`);
  const out = new Uint8Array(prefix.length + signaturePublicKey.length);
  out.set(prefix);
  out.set(signaturePublicKey, prefix.length);
  return out;
}

export async function makeCredential(
  signature: Signature,
  identity: { uid: string; installation: string; identityKey: Uint8Array; identityPrivateKey: Uint8Array },
  signaturePublicKey: Uint8Array,
): Promise<Credential> {
  const binding = await signature.sign(identity.identityPrivateKey, bindingMessage(identity.uid, identity.installation, signaturePublicKey));
  const fields = [CREDENTIAL_VERSION, identity.uid, identity.installation, identity.identityKey, binding];
  return { credentialType: 'basic', identity: new Uint8Array(cbor.encode(fields)) };
}

function bytes(value: unknown): Uint8Array | undefined {
  return value instanceof Uint8Array ? new Uint8Array(value) : undefined;
}

/** The fields of a credential, or undefined when it is not one of ours. Not yet verified. */
function credentialFields(credential: Credential): CredentialFields | undefined {
  if (credential.credentialType !== 'basic') return undefined;
  let decoded: unknown;
  try {
    decoded = cborDecoder.decode(credential.identity);
  } catch {
    return undefined;
  }
  if (!Array.isArray(decoded) || decoded.length !== 5 || decoded[0] !== CREDENTIAL_VERSION) return undefined;
  const [, uid, installation, identityKey, binding] = decoded as unknown[];
  const key = bytes(identityKey);
  const sig = bytes(binding);
  if (typeof uid !== 'string' || typeof installation !== 'string' || key === undefined || sig === undefined) return undefined;
  return { uid, installation, identityKey: key, binding: sig };
}

/**
 * The identity a credential claims. Only call this for credentials the authentication
 * service has accepted (leaves of a group state, processed messages).
 */
export function identityOf(credential: Credential): MemberIdentity | undefined {
  const fields = credentialFields(credential);
  return fields === undefined ? undefined : { uid: fields.uid, installation: fields.installation, identityKey: fields.identityKey };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * ts-mls calls this for every leaf it admits or verifies (key packages in adds, commit
 * paths, the whole tree on join). The default service accepts everything.
 */
export class PinnedAuthenticationService implements AuthenticationService {
  readonly #signature: Signature;
  readonly #pins: IdentityPins;

  constructor(signature: Signature, pins: IdentityPins) {
    this.#signature = signature;
    this.#pins = pins;
  }

  async validateCredential(credential: Credential, signaturePublicKey: Uint8Array): Promise<boolean> {
    const fields = credentialFields(credential);
    if (fields === undefined) return false;
    let bound: boolean;
    try {
      bound = await this.#signature.verify(fields.identityKey, bindingMessage(fields.uid, fields.installation, signaturePublicKey), fields.binding);
    } catch {
      bound = false;
    }
    if (!bound) return false;
    const pinned = this.#pins.pinned(fields.uid, fields.installation);
    if (pinned === undefined) {
      this.#pins.pin(fields.uid, fields.installation, fields.identityKey);
      return true;
    }
    return sameBytes(pinned, fields.identityKey);
  }
}

export class MemoryIdentityPins implements IdentityPins {
  readonly #pins = new Map<string, Uint8Array>();
  pinned(uid: string, installation: string): Uint8Array | undefined {
    return this.#pins.get(`${uid}\0${installation}`);
  }
  pin(uid: string, installation: string, identityKey: Uint8Array): void {
    this.#pins.set(`${uid}\0${installation}`, identityKey);
  }
}
