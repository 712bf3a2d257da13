/**
 * The public surface of the pure Raft core. Drivers and the simulator import from here.
 */
export { RaftNode, type Status, type ProgressStatus } from './raft-node.ts';
export { MemoryLogView, type LogView, type MemoryLogViewInit } from './log-view.ts';
export { raftDefaults, resolveConfig, type RaftConfig, type ReadOnlyMode, type ResolvedRaftConfig } from './config.ts';
export { encodeConfChange, decodeConfChange, applyConfChange, sortVoters, type ConfChange, type ConfChangeEntry } from './conf-change.ts';
export {
  describeData,
  describeEntry,
  describeEntries,
  describeHardState,
  describeMessage,
  describeReadState,
  describeReady,
  describeSnapshot,
  describeSoftState,
} from './describe.ts';
export { seededRandom } from './seeded-random.ts';
export {
  HARD_STATE_KEY,
  decodeHardState,
  encodeHardState,
  entryFromLogEntry,
  entryToLogEntry,
  snapshotFromStored,
  snapshotToStored,
} from './storage-codec.ts';
export type * from './types.ts';
