// `parley keys show`: prints this node's identity, so an operator can hand the node id
// to the operators of its peers. Showing never creates: a mistyped --data must not
// print a fresh key as if it were the node's.

import { parseArgs } from 'node:util';
import { DEFAULTS } from '../node/config.ts';
import { KEY_FILE, loadIdentity, rawPublicKey } from '../identity/node-identity.ts';
import { peerIdOf } from '../p2p/host/peer-identity.ts';

export const KEYS_USAGE = `Usage: parley keys show [--data DIR]

Prints the node id, libp2p peer id and public key of the node whose data directory is DIR
(default: ${DEFAULTS.dataDir}). The key pair lives in DIR/${KEY_FILE}; 'parley serve'
creates it on its first start with that --data. Showing never creates a key.
`;

export function runKeys(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: { data: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    err.write(`parley keys: ${(error as Error).message}\n${KEYS_USAGE}`);
    return 2;
  }
  if (values.help) {
    out.write(KEYS_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'show') {
    err.write(`parley keys: expected 'show'\n${KEYS_USAGE}`);
    return 2;
  }
  const dataDir = values.data ?? DEFAULTS.dataDir;
  try {
    const identity = loadIdentity(dataDir);
    if (identity === undefined) {
      err.write(
        `parley keys: no node key in ${dataDir} (no ${KEY_FILE} there).\n` +
          `Check the --data path; if this is a new node, start it once with 'parley serve --data ${dataDir}' to create its key.\n`,
      );
      return 1;
    }
    const raw = Buffer.from(rawPublicKey(identity.publicKey));
    out.write(
      `node id:    ${identity.nodeId}\npeer id:    ${peerIdOf(identity.publicKey)}\npublic key: ${raw.toString('base64url')} (Ed25519)\nkey file:   ${dataDir}/${KEY_FILE}\n`,
    );
    return 0;
  } catch (error) {
    err.write(`parley keys: cannot read the key in ${dataDir}: ${(error as Error).message}\n`);
    return 1;
  }
}
