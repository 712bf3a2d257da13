import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { parseArchiveState, readSnapshotArchive, writeSnapshotArchive } from './snapshot-archive.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const state = Buffer.from(JSON.stringify({ format: 'herald-catalog', version: 1, lastIndex: '7', nodes: [] }));
const big = (1n << 60n) + 7n;

describe('snapshot archives', () => {
  it('round-trips meta and state, with uint64 Index and Term exact', () => {
    const archive = writeSnapshotArchive({ index: big, term: 3n, state, now: 1_700_000_000_123 });
    const { meta, state: back } = readSnapshotArchive(archive);
    expect(meta).toEqual({
      id: `3-${big}-1700000000123`,
      index: big,
      term: 3n,
      version: 1,
      size: state.length,
      format: 'herald-catalog',
      heraldVersion: expect.any(String),
    });
    expect(back.equals(state)).toBe(true);
    expect(parseArchiveState(back)).toEqual(JSON.parse(state.toString()));
  });

  it('is a gzipped ustar archive that GNU tar lists and extracts, checksums included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-archive-'));
    dirs.push(dir);
    const file = join(dir, 'backup.snap');
    writeFileSync(file, writeSnapshotArchive({ index: 42n, term: 1n, state }));
    expect(execFileSync('tar', ['-tzf', file]).toString()).toBe('meta.json\nstate.json\nSHA256SUMS\n');
    execFileSync('tar', ['-xzf', file, '-C', dir]);
    expect(readFileSync(join(dir, 'state.json')).equals(state)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'))).toMatchObject({ Version: 1, Index: 42, Term: 1, Size: state.length });
    // sha256sum -c verifies the archive's own SHA256SUMS.
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir }).toString()).toBe('meta.json: OK\nstate.json: OK\n');
  });

  it('reads an archive GNU tar wrote (same three files)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-archive-'));
    dirs.push(dir);
    const meta = JSON.stringify({ Version: 1, ID: '1-5-1', Index: 5, Term: 1, Size: state.length, Format: 'herald-catalog' });
    writeFileSync(join(dir, 'meta.json'), meta);
    writeFileSync(join(dir, 'state.json'), state);
    writeFileSync(join(dir, 'SHA256SUMS'), execFileSync('sha256sum', ['meta.json', 'state.json'], { cwd: dir }));
    execFileSync('tar', ['--format=ustar', '-czf', 'x.tgz', 'meta.json', 'state.json', 'SHA256SUMS'], { cwd: dir });
    const { meta: m, state: s } = readSnapshotArchive(readFileSync(join(dir, 'x.tgz')));
    expect(m.index).toBe(5n);
    expect(s.equals(state)).toBe(true);
  });

  /** Re-tars the archive's members after `edit`, keeping the original SHA256SUMS. */
  function tampered(edit: (name: string, data: Buffer) => Buffer): Buffer {
    const tar = gunzipSync(writeSnapshotArchive({ index: 9n, term: 1n, state }));
    // Members are at 512-byte boundaries: header, data (padded). Edit state.json's bytes in place.
    const out = Buffer.from(tar);
    let at = 0;
    while (out[at] !== 0) {
      const name = out.toString('utf8', at, at + 100).replace(/\0.*$/s, '');
      const size = parseInt(out.toString('ascii', at + 124, at + 135), 8);
      const edited = edit(name, out.subarray(at + 512, at + 512 + size));
      edited.copy(out, at + 512);
      at += 512 + Math.ceil(size / 512) * 512;
    }
    return gzipSync(out);
  }

  it.each([
    ['an empty body', () => Buffer.alloc(0), /snapshot archive: empty/],
    ['not gzip', () => Buffer.from('hello'), /not a gzip file or damaged/],
    ['gzip of something else', () => gzipSync(Buffer.from('x'.repeat(600))), /tar: header checksum mismatch|not an octal number/],
    ['a truncated gzip stream', () => writeSnapshotArchive({ index: 1n, term: 1n, state }).subarray(0, 60), /not a gzip file or damaged/],
    [
      'a truncated tar inside good gzip',
      () => gzipSync(gunzipSync(writeSnapshotArchive({ index: 1n, term: 1n, state })).subarray(0, 700)),
      /cut short \(truncated archive\)|ends without its end-of-archive/,
    ],
    [
      'state.json altered after SHA256SUMS was written',
      () => tampered((name, d) => (name === 'state.json' ? Buffer.from(d.toString().replace('"7"', '"8"')) : d)),
      /state\.json does not match its SHA-256 in SHA256SUMS/,
    ],
    [
      'a Consul archive (state.bin)',
      () => consulLike(),
      /no state\.json in the archive \(this looks like a Consul snapshot/,
    ],
  ])('refuses %s with SNAPSHOT_INVALID', (_what, make, message) => {
    let err: unknown;
    try {
      readSnapshotArchive(make() as Buffer);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: ERR.SNAPSHOT_INVALID });
    expect((err as Error).message).toMatch(message);
  });

  it('refuses state.json that is not JSON', () => {
    expect(() => parseArchiveState(Buffer.from('{oops'))).toThrow(/snapshot archive: state\.json is not JSON/);
  });
});

/** meta.json + state.bin + SHA256SUMS, as a Consul archive has them, built with GNU tar. */
function consulLike(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'herald-archive-consul-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'meta.json'), '{"Version":1,"ID":"2-5-1","Index":5,"Term":2}');
  writeFileSync(join(dir, 'state.bin'), Buffer.from([0x82, 0xa1, 0x61]));
  writeFileSync(join(dir, 'SHA256SUMS'), execFileSync('sha256sum', ['meta.json', 'state.bin'], { cwd: dir }));
  execFileSync('tar', ['--format=ustar', '-czf', 'c.tgz', 'meta.json', 'state.bin', 'SHA256SUMS'], { cwd: dir });
  return readFileSync(join(dir, 'c.tgz'));
}
