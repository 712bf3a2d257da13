/**
 * `herald snapshot save|restore|inspect` against real agents: save verifies and writes the
 * archive, inspect reads it locally, restore into a second agent gives the same state; bad
 * files and command lines get Consul's messages.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSnapshotArchive } from '../../catalog/snapshot-archive.ts';
import { captureIo, runCli, startAgent, tempDir, type RunningAgent } from './cli-harness.ts';
import { byteSize, runSnapshot, tabwrite } from './snapshot.ts';

const stateHash = (archive: Buffer) => createHash('sha256').update(readSnapshotArchive(archive).state).digest('hex');

describe('herald snapshot', { timeout: 30_000 }, () => {
  let a: RunningAgent;
  let b: RunningAgent;
  const dir = tempDir('snapshot');

  beforeAll(async () => {
    [a, b] = await Promise.all([
      startAgent({ configDir: tempDir('snap-a'), node: 'snap-a' }),
      startAgent({ configDir: tempDir('snap-b'), node: 'snap-b' }),
    ]);
    const put = (path: string, body: unknown) => fetch(`http://${a.httpAddr}${path}`, { method: 'PUT', body: JSON.stringify(body) });
    expect((await put('/v1/catalog/register', { Node: 'ext', Address: '10.6.0.1', Service: { Service: 'db', Port: 5432 } })).status).toBe(200);
  }, 30_000);
  afterAll(() => {
    a?.kill();
    b?.kill();
  });

  it('save writes a verified archive (0600) and reports its index; restore puts it into another agent', async () => {
    const file = join(dir, 'backup.snap');
    const saved = await runCli(['snapshot', 'save', '-http-addr', a.httpAddr, file]);
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);
    const archive = readFileSync(file);
    const { meta } = readSnapshotArchive(archive);
    expect(saved.stdout).toBe(`Saved and verified snapshot to index ${meta.index}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.unverified'))).toEqual([]);

    const restored = await runCli(['snapshot', 'restore', '-http-addr', b.httpAddr, file]);
    expect(restored).toEqual({ code: 0, stdout: 'Restored snapshot\n', stderr: '' });
    const again = Buffer.from(await (await fetch(`http://${b.httpAddr}/v1/snapshot`)).arrayBuffer());
    expect(stateHash(again)).toBe(stateHash(archive));
    const db = (await (await fetch(`http://${b.httpAddr}/v1/catalog/service/db`)).json()) as Array<{ Node: string }>;
    expect(db.map((r) => r.Node)).toEqual(['ext']);
  });

  it('inspect prints the meta block and a Type/Count/Size table in Consul’s layout', async () => {
    const file = join(dir, 'inspect.snap');
    writeFileSync(file, Buffer.from(await (await fetch(`http://${a.httpAddr}/v1/snapshot`)).arrayBuffer()));
    const { meta } = readSnapshotArchive(readFileSync(file));
    const io = captureIo();
    expect(await runSnapshot(['inspect', file], io)).toBe(0);
    const lines = io.stdout().split('\n');
    expect(lines.slice(0, 6)).toEqual([
      ` ID           ${meta.id}`,
      ` Size         ${meta.size}`,
      ` Index        ${meta.index}`,
      ` Term         1`,
      ` Version      1`,
      '',
    ]);
    expect(lines[6]).toMatch(/^ Type +Count +Size +$/);
    expect(lines.find((l) => l.startsWith(' Nodes'))).toMatch(/^ Nodes +2 +\d+(\.\d)?(B|KB) +$/);
    expect(lines.find((l) => l.startsWith(' Services'))).toMatch(/^ Services +2 /);
  });

  it('refuses what it cannot use with Consul’s messages', async () => {
    const junk = join(dir, 'junk.snap');
    writeFileSync(junk, 'not an archive');
    let io = captureIo();
    expect(await runSnapshot(['restore', '-http-addr', b.httpAddr, junk], io)).toBe(1);
    expect(io.stderr()).toMatch(/^Error restoring snapshot: Unexpected response code: 400 \(snapshot archive: not a gzip file or damaged/);
    io = captureIo();
    expect(await runSnapshot(['inspect', junk], io)).toBe(1);
    expect(io.stderr()).toMatch(/^Error inspecting snapshot: snapshot archive: not a gzip file/);
    io = captureIo();
    expect(await runSnapshot(['restore', '-http-addr', b.httpAddr, join(dir, 'missing.snap')], io)).toBe(1);
    expect(io.stderr()).toMatch(/^Error opening snapshot file: ENOENT/);
    io = captureIo();
    expect(await runSnapshot(['save'], io)).toBe(1);
    expect(io.stderr()).toMatch(/^Missing FILE argument\n\nUsage: herald snapshot save/);
    io = captureIo();
    expect(await runSnapshot(['save', 'a', 'b'], io)).toBe(1);
    expect(io.stderr()).toMatch(/^Too many arguments \(expected 1, got 2\)/);
    io = captureIo();
    expect(await runSnapshot(['nope'], io)).toBe(1);
    expect(io.stderr()).toMatch(/^Unknown subcommand: "snapshot nope"/);
    // A failed save leaves no file behind.
    io = captureIo();
    const target = join(dir, 'never.snap');
    expect(await runSnapshot(['save', '-http-addr', '127.0.0.1:1', target], io)).toBe(1);
    expect(io.stderr()).toMatch(/^Error saving snapshot: /);
    expect(existsSync(target) || existsSync(`${target}.unverified`)).toBe(false);
  });

  it('formats sizes and columns as Go does', () => {
    expect([byteSize(0), byteSize(500), byteSize(1024), byteSize(1536), byteSize(5 * 2 ** 20)]).toEqual(['0', '500B', '1KB', '1.5KB', '5MB']);
    expect(tabwrite([[' ID', 'x'], [' Version', '1'], [], [' Type', 'Count', '']])).toBe(' ID           x\n Version      1\n\n Type      Count      ');
  });
});
