import { describe, expect, it } from 'vitest';
import { encodeConfChange } from './conf-change.ts';
import { describeData, describeEntry, describeMessage, describeReady } from './describe.ts';
import type { Entry } from './types.ts';

const e = (index: bigint, kind: Entry['kind'], data: Buffer): Entry => ({ index, term: 2n, kind, data });

describe('describe*: one stable line per value', () => {
  it('prints entries by kind; data as a string when printable, else length and hex', () => {
    expect(describeEntry(e(5n, 'noop', Buffer.alloc(0)))).toBe('2/5 noop');
    expect(describeEntry(e(6n, 'normal', Buffer.from('put "x"')))).toBe('2/6 normal "put \\"x\\""');
    expect(describeEntry(e(7n, 'normal', Buffer.from([0, 1, 2, 255, 4, 5, 6, 7, 8])))).toBe('2/7 normal <9B 0x000102ff04050607…>');
    expect(describeEntry(e(8n, 'conf', encodeConfChange({ type: 'add', node: '4', voters: ['1', '2', '3', '4'] })))).toBe(
      '2/8 conf add 4 -> 1,2,3,4',
    );
    expect(describeData(Buffer.alloc(65, 'a'))).toMatch(/^<65B 0x6161/);
  });

  it('prints each message type with only the fields it uses', () => {
    const base = { from: '1', to: '2', term: 3n } as const;
    expect(describeMessage({ ...base, type: 'MsgApp', index: 4n, logTerm: 2n, commit: 4n, entries: [] })).toBe(
      '1->2 MsgApp term=3 log=2/4 commit=4',
    );
    expect(describeMessage({ ...base, type: 'MsgAppResp', index: 9n, reject: true, rejectHint: 6n, logTerm: 1n })).toBe(
      '1->2 MsgAppResp term=3 reject index=9 hint=1/6',
    );
    expect(describeMessage({ ...base, type: 'MsgVote', index: 7n, logTerm: 2n, transfer: true })).toBe(
      '1->2 MsgVote term=3 last=2/7 transfer',
    );
    expect(describeMessage({ ...base, type: 'MsgPreVoteResp', reject: true })).toBe('1->2 MsgPreVoteResp term=3 rejected');
    expect(describeMessage({ ...base, type: 'MsgHeartbeat', commit: 4n, tick: 99, context: 'r1' })).toBe(
      '1->2 MsgHeartbeat term=3 commit=4 ctx="r1"',
    );
    expect(describeMessage({ ...base, type: 'MsgReadIndexResp', index: 4n, context: 'r1' })).toBe(
      '1->2 MsgReadIndexResp term=3 index=4 ctx="r1"',
    );
    expect(
      describeMessage({ ...base, type: 'MsgSnap', snapshot: { index: 10n, term: 2n, voters: ['1', '2'], data: Buffer.alloc(3) } }),
    ).toBe('1->2 MsgSnap term=3 snap=2/10 voters=1,2 bytes=3');
    expect(describeMessage({ ...base, type: 'MsgTimeoutNow' })).toBe('1->2 MsgTimeoutNow term=3');
  });

  it('prints a Ready one line per part, leaving empty parts out', () => {
    expect(
      describeReady({
        softState: { leader: '1', role: 'leader', voters: ['1', '2', '3'] },
        hardState: { term: 3n, vote: '1', commit: 4n },
        truncateAfter: 4n,
        entries: [e(5n, 'noop', Buffer.alloc(0))],
        mustSync: true,
        messages: [{ type: 'MsgHeartbeatResp', from: '1', to: '2', term: 3n }],
        committedEntries: [],
        readStates: [{ index: 4n, context: 'r' }],
      }),
    ).toBe(
      [
        'soft leader=1 role=leader voters=1,2,3',
        'hard term=3 vote=1 commit=4',
        'truncate-after 4',
        'entries [2/5 noop]',
        'must-sync',
        'read index=4 ctx="r"',
        'msg 1->2 MsgHeartbeatResp term=3',
      ].join('\n'),
    );
    expect(describeReady({ entries: [], mustSync: false, messages: [], committedEntries: [], readStates: [] })).toBe('(empty)');
  });
});
