/**
 * The replicated log callers use (ReplicatedLog), over a RaftDriver: the clustered
 * counterpart of LocalLog and DurableLog, so clustering changes no caller (DESIGN principle 2).
 *
 * The driver replicates opaque bytes; this file is where they become catalog commands:
 * command-codec.ts encodes them (the same entry format DurableLog writes), and
 * `catalogStateMachine` applies them to the StateMachine and snapshots it as JSON (the same
 * JSON DurableLog saves). src/raft/core and the driver know nothing of the catalog.
 */
import type { StateMachine } from '../catalog/state-machine.ts';
import type { Command } from '../catalog/types.ts';
import { ERR, HeraldError } from '../errors.ts';
import { decodeCommand, encodeCommand } from './command-codec.ts';
import type { ReplicatedLog } from './local-log.ts';
import type { RaftDriver, RaftStateMachine } from './raft-driver.ts';

function decodeOrThrow(data: Buffer): Command {
  const d = decodeCommand(data);
  if (!d.ok) throw new HeraldError(ERR.COMMAND_INVALID, `log entry: ${d.reason}`);
  return d.command;
}

/**
 * The catalog StateMachine as the driver's RaftStateMachine. `sm` must have every plugin's
 * StateExtension registered before the driver starts (a snapshot naming an unknown plugin is
 * refused, and so would be its commands).
 */
export function catalogStateMachine(sm: StateMachine): RaftStateMachine {
  return {
    validate: (data) => sm.validate(decodeOrThrow(data)),
    apply: (index, data) => sm.apply(index, decodeOrThrow(data)).result,
    // Taken synchronously: the state and the index the driver records belong to one instant.
    snapshot: () => Buffer.from(JSON.stringify(sm.snapshot()), 'utf8'),
    restore: (data, index) => {
      let state: unknown;
      try {
        state = JSON.parse(data.toString('utf8'));
      } catch (err) {
        throw new HeraldError(ERR.SNAPSHOT_INVALID, `snapshot at index ${index}: not JSON: ${(err as Error).message}`);
      }
      sm.restore(state);
    },
  };
}

/**
 * ReplicatedLog over Raft. `propose` resolves once the command is committed by a quorum and
 * applied on THIS server (so a read of the local state machine right after sees it), with the
 * entry's index and the state machine's result. Rejections: the state machine's refusal (its
 * own HeraldError code); RAFT_NOT_LEADER (with `leader`) when this server cannot reach a
 * leader to forward to; RAFT_PROPOSAL_DROPPED (not applied; retry); a RaftError with
 * `indeterminate` true when the outcome is unknown (leadership lost, timeout).
 */
export class RaftLog implements ReplicatedLog {
  constructor(readonly driver: RaftDriver) {}

  propose(command: Command): Promise<{ index: bigint; result?: unknown }> {
    let data: Buffer;
    try {
      data = encodeCommand(command);
    } catch (err) {
      return Promise.reject(new HeraldError(ERR.COMMAND_INVALID, `command cannot be stored: ${(err as Error).message}`));
    }
    return this.driver.propose(data).then(async (applied) => {
      // Forwarded: applied on the leader; wait until this server has applied it too, so the
      // caller's next local read sees its own write. It is committed either way: a server that
      // lags past the timeout still acknowledges it.
      if (this.driver.appliedIndex < applied.index) {
        await this.driver.waitForApplied(applied.index, this.driver.tuning.proposalTimeoutMs).catch(() => undefined);
      }
      return applied;
    });
  }

  /** Index of the last entry in this server's log (appended, not necessarily committed yet). */
  get lastIndex(): bigint {
    return this.driver.lastIndex;
  }

  /** Index of the last entry applied to the local state machine. */
  get appliedIndex(): bigint {
    return this.driver.appliedIndex;
  }

  /** A linearizable read point for `?consistent` (see RaftDriver.readIndex). */
  readIndex(): Promise<bigint> {
    return this.driver.readIndex();
  }
}
