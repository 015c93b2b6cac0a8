// Which commits and proposals a member accepts. Members may add, remove and update;
// proposals are accepted only as a member's request to remove itself (leave). Anything
// else (PSKs, reinit, external commits, extension changes) is refused.

import type { Proposal } from 'ts-mls';
import type { CommitPolicy } from './mls.ts';

export const groupPolicy: CommitPolicy = (kind, proposals: readonly Proposal[], senderLeaf: number | undefined): boolean => {
  if (senderLeaf === undefined) return false;
  if (kind === 'proposal') return proposals.every((p) => p.proposalType === 'remove' && p.remove.removed === senderLeaf);
  return proposals.every((p) => p.proposalType === 'add' || p.proposalType === 'remove' || p.proposalType === 'update');
};
