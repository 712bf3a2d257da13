/**
 * `herald kv get|put|delete|export|import` against a real `herald agent -plugin http-api
 * -plugin kv` child process, checked against Consul's messages and exit codes (command/kv/*),
 * and against what the agent's /v1/kv then holds. The real `herald` binary runs the paths that
 * involve the process (dispatch through the plugin's `cli`, stdin, stdout, exit status); the
 * many message checks run the same command function in-process over real HTTP, since each CLI
 * process costs about a second of Node and tsx start-up.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo, freePort, runCli, startAgent, tempDir, type CliResult, type RunningAgent } from '../../../src/cli/commands/cli-harness.ts';
import { runKv } from './kv-command.ts';
import { kvIoFrom } from './kv-io.ts';

const LOCK_FLAGS = '3304740253564472344';

let agent: RunningAgent;
let addr: string;
let url: string;

beforeAll(async () => {
  agent = await startAgent({ configDir: tempDir('kv'), node: 'kv-cli', extraArgs: ['-plugin', 'kv'] });
  addr = `-http-addr=${agent.httpAddr}`;
  url = `http://${agent.httpAddr}`;
}, 30_000);

afterAll(() => agent?.kill());

/** `herald kv <sub> -http-addr=<agent> args...`, in-process, with stdin when given. */
async function kv(...args: string[]): Promise<CliResult> {
  return kvWithStdin(undefined, ...args);
}

async function kvWithStdin(stdin: string | undefined, ...args: string[]): Promise<CliResult> {
  const io = captureIo();
  const code = await runKv([...args.slice(0, 1), addr, ...args.slice(1)], kvIoFrom(io, Buffer.from(stdin ?? '')));
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

/** The same through the real binary. */
const bin = (...args: string[]) => runCli(['kv', ...args.slice(0, 1), addr, ...args.slice(1)]);
const raw = async (key: string) => {
  const res = await fetch(`${url}/v1/kv/${key}?raw`);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
};
const entry = async (key: string) => ((await (await fetch(`${url}/v1/kv/${key}`)).text()));

describe('herald kv against a real agent', { timeout: 30_000 }, () => {
  it('puts and gets a value; -detailed, -recurse and -keys print what Consul prints', async () => {
    expect(await kv('put', 'app/config/name', 'web server')).toEqual({ code: 0, stdout: 'Success! Data written to: app/config/name\n', stderr: '' });
    await Promise.all([kv('put', 'app/config/port', '8080'), kv('put', 'app/other', 'x'), kv('put', 'apple', 'fruit')]);
    const [get, detailed, recurse, keys, flat, missing] = await Promise.all([
      kv('get', 'app/config/name'),
      kv('get', '-detailed', '/app/config/name'), // a leading / is stripped
      kv('get', '-recurse', 'app/'),
      kv('get', '-keys', 'app'),
      kv('get', '-keys', '-separator=', 'app/'),
      kv('get', 'app/nope'),
    ]);
    expect(get).toEqual({ code: 0, stdout: 'web server\n', stderr: '' });
    expect(detailed.code).toBe(0);
    expect(detailed.stdout).toMatch(/^CreateIndex {6}\d+\nFlags {12}0\nKey {14}app\/config\/name\nLockIndex {8}0\nModifyIndex {6}\d+\nSession {10}-\nValue {12}web server\n$/);
    expect(recurse.stdout).toBe('app/config/name:web server\napp/config/port:8080\napp/other:x\n');
    // -keys folds at "/" by default, as Consul's flag default does.
    expect(keys.stdout).toBe('app/\napple\n');
    expect(flat.stdout).toBe('app/config/name\napp/config/port\napp/other\n');
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'Error! No key exists at: app/nope\n' });
  });

  it('reads the value from @file and from stdin (-), byte for byte; -base64 decodes', async () => {
    const file = join(tempDir('kvfile'), 'value.bin');
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13]);
    writeFileSync(file, bytes);
    const [fromFile, fromStdin, b64] = await Promise.all([
      kv('put', 'bin/file', `@${file}`),
      kvWithStdin('line one\nline two\n', 'put', 'bin/stdin', '-'),
      kv('put', '-base64', 'bin/b64', Buffer.from('decoded!').toString('base64')),
    ]);
    expect([fromFile.code, fromStdin.code, b64.code]).toEqual([0, 0, 0]);
    expect((await raw('bin/file')).body).toEqual(bytes);
    expect((await raw('bin/stdin')).body.toString()).toBe('line one\nline two\n');
    expect((await raw('bin/b64')).body.toString()).toBe('decoded!');
    const bad = await kv('put', '-base64', 'bin/bad', 'not base64!');
    expect(bad).toEqual({ code: 1, stdout: '', stderr: 'Error! Cannot base 64 decode data: illegal base64 data\n' });
    expect((await raw('bin/bad')).status).toBe(404);
    // A value that starts with "-" but is not "-" is the value itself, as in Consul.
    expect((await kv('put', 'bin/dash', '-x')).code).toBe(0);
    expect((await raw('bin/dash')).body.toString()).toBe('-x');
  });

  it('keeps -flags above 2^53 exact and checks -cas against the ModifyIndex', async () => {
    expect((await kv('put', `-flags=${LOCK_FLAGS}`, 'cas/k', 'v1')).code).toBe(0);
    const body = await entry('cas/k');
    expect(body).toMatch(new RegExp(`"Flags":\\s*${LOCK_FLAGS}`));
    const modify = /"ModifyIndex":\s*(\d+)/.exec(body)![1]!;
    expect((await kv('get', '-detailed', 'cas/k')).stdout).toContain(`Flags            ${LOCK_FLAGS}\n`);

    expect(await kv('put', '-cas', '-modify-index=1', 'cas/k', 'v2')).toEqual({ code: 1, stdout: '', stderr: 'Error! Did not write to cas/k: CAS failed\n' });
    expect(await kv('put', '-cas', `-modify-index=${modify}`, 'cas/k', 'v2')).toEqual({ code: 0, stdout: 'Success! Data written to: cas/k\n', stderr: '' });
    expect((await raw('cas/k')).body.toString()).toBe('v2');
    // Consul's api.KV.Put sends no flags when they are 0, and the agent resets them.
    expect(await entry('cas/k')).toMatch(/"Flags":\s*0[,\s]/);

    const now = /"ModifyIndex":\s*(\d+)/.exec(await entry('cas/k'))![1]!;
    expect(await kv('delete', '-cas', `-modify-index=${modify}`, 'cas/k')).toEqual({ code: 1, stdout: '', stderr: 'Error! Did not delete key cas/k: CAS failed\n' });
    expect(await kv('delete', '-cas', `-modify-index=${now}`, 'cas/k')).toEqual({ code: 0, stdout: 'Success! Deleted key: cas/k\n', stderr: '' });
    expect((await raw('cas/k')).status).toBe(404);
  });

  it('acquires and releases a lock with -session; another session is refused', async () => {
    const session = async () => ((await (await fetch(`${url}/v1/session/create`, { method: 'PUT' })).json()) as { ID: string }).ID;
    const [s1, s2] = await Promise.all([session(), session()]);
    expect(await kv('put', '-acquire', `-session=${s1}`, 'locks/a', 'mine')).toEqual({ code: 0, stdout: 'Success! Lock acquired on: locks/a\n', stderr: '' });
    expect(await kv('put', '-acquire', `-session=${s2}`, 'locks/a', 'theirs')).toEqual({ code: 1, stdout: '', stderr: 'Error! Did not acquire lock\n' });
    expect((await kv('get', '-detailed', 'locks/a')).stdout).toContain(`LockIndex        1\nModifyIndex`);
    expect((await kv('get', '-detailed', 'locks/a')).stdout).toContain(`Session          ${s1}\nValue            mine\n`);
    expect(await kv('put', '-release', `-session=${s2}`, 'locks/a')).toEqual({ code: 1, stdout: '', stderr: 'Error! Did not release lock\n' });
    expect(await kv('put', '-release', `-session=${s1}`, 'locks/a')).toEqual({ code: 0, stdout: 'Success! Lock released on: locks/a\n', stderr: '' });
    const unknown = await kv('put', '-acquire', '-session=00000000-0000-0000-0000-000000000000', 'locks/b');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^Error! Failed writing data: Unexpected response code: 500 \(.+\)\n$/);
  });

  it('deletes one key, or a prefix with -recurse', async () => {
    await Promise.all([kv('put', 'del/a', '1'), kv('put', 'del/b/c', '2'), kv('put', 'delx', '3')]);
    expect(await kv('delete', 'del/a')).toEqual({ code: 0, stdout: 'Success! Deleted key: del/a\n', stderr: '' });
    expect(await kv('delete', '-recurse', 'del/')).toEqual({ code: 0, stdout: 'Success! Deleted keys with prefix: del/\n', stderr: '' });
    expect((await raw('del/b/c')).status).toBe(404);
    expect((await raw('delx')).status).toBe(200);
  });

  it('exports a prefix as Consul does and imports it back under -prefix, from stdin and @file', async () => {
    await Promise.all([kv('put', '-flags=7', 'exp/a', 'alpha'), kv('put', 'exp/b/c', 'gamma')]);
    const exp = await kv('export', 'exp/');
    expect(exp.code).toBe(0);
    expect(exp.stdout).toBe(
      '[\n\t{\n\t\t"key": "exp/a",\n\t\t"flags": 7,\n\t\t"value": "YWxwaGE="\n\t},\n\t{\n\t\t"key": "exp/b/c",\n\t\t"flags": 0,\n\t\t"value": "Z2FtbWE="\n\t}\n]\n',
    );
    expect((await kv('export', 'nothing/here/')).stdout).toBe('[]\n');

    const imported = await kvWithStdin(exp.stdout, 'import', '-prefix=copy', '-');
    expect(imported).toEqual({ code: 0, stdout: 'Imported: copy/exp/a\nImported: copy/exp/b/c\n', stderr: '' });
    expect((await raw('copy/exp/b/c')).body.toString()).toBe('gamma');
    expect(await entry('copy/exp/a')).toMatch(/"Flags":\s*7[,\s]/);

    const file = join(tempDir('kvimport'), 'export.json');
    writeFileSync(file, JSON.stringify([{ key: 'imp/x', flags: 0, value: Buffer.from('from file').toString('base64') }]));
    expect(await kv('import', `@${file}`)).toEqual({ code: 0, stdout: 'Imported: imp/x\n', stderr: '' });
    expect((await raw('imp/x')).body.toString()).toBe('from file');
    const bad = await kv('import', '{"key":"x"}');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('Cannot unmarshal data: json: cannot unmarshal object into Go value of type []*impexp.Entry\n');
  });

});

describe('herald kv through the real binary', { timeout: 30_000 }, () => {
  it('dispatches to the plugin command: stdin in, raw bytes and exit codes out', async () => {
    const bytes = Buffer.from('caf\u00e9 \u2603\n', 'utf8');
    expect(await runCli(['kv', 'put', addr, 'proc/v', '-'], {}, 25_000, bytes)).toEqual({ code: 0, stdout: 'Success! Data written to: proc/v\n', stderr: '' });
    expect((await raw('proc/v')).body).toEqual(bytes);
    const closed = await freePort();
    const [get, detailed, missing, unreachable, help] = await Promise.all([
      bin('get', 'proc/v'),
      bin('get', '-detailed', 'proc/v'),
      bin('get', 'proc/none'),
      runCli(['kv', 'get', `-http-addr=127.0.0.1:${closed}`, 'a']),
      runCli(['kv', 'put', '-h']),
    ]);
    expect(get).toEqual({ code: 0, stdout: `${bytes.toString()}\n`, stderr: '' });
    expect(detailed.stdout).toMatch(/\nKey {14}proc\/v\n/);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'Error! No key exists at: proc/none\n' });
    expect(unreachable).toEqual({ code: 1, stdout: '', stderr: `Error querying agent: connect ECONNREFUSED 127.0.0.1:${closed}\n` });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: herald kv put \[options\] KEY \[DATA\]/);
    expect(help.stdout).toContain('-modify-index=<value>');
  });
});

describe('herald kv argument errors (in-process, no request sent)', () => {
  const cases: [string[], string][] = [
    [['get'], 'Error! Missing KEY argument\n'],
    [['get', 'a', 'b'], 'Too many arguments (expected 1, got 2)\n'],
    [['put'], 'Error! Missing KEY argument\n'],
    [['put', 'k', 'v', 'w'], 'Error! Too many arguments (expected 1 or 2, got 3)\n'],
    [['put', '-cas', 'k', 'v'], 'Must specify -modify-index with -cas!\n'],
    [['put', '-acquire', 'k'], 'Error! Missing -session (required with -acquire and -release)\n'],
    [['put', 'k', '@/nonexistent/file'], "Error! Failed to read file: ENOENT: no such file or directory, open '/nonexistent/file'\n"],
    [['delete'], 'Error! Missing KEY argument\n'],
    [['delete', '-cas', 'k'], 'Cannot delete a key that does not exist. Provide a -modify-index greater than than 0.\n'],
    [['delete', '-modify-index=3', 'k'], 'Cannot specify -modify-index without -cas!\n'],
    [['delete', '-recurse', '-cas', '-modify-index=3', 'k'], 'Cannot specify both -cas and -recurse!\n'],
    [['import'], 'Error! Missing DATA argument\n'],
    [['import', ''], 'Error! Empty DATA argument\n'],
    [['export', 'a', 'b'], 'Too many arguments (expected 1, got 2)\n'],
  ];
  it.each(cases)('kv %j', async (argv, stderr) => {
    // An unroutable address: these must fail before any request.
    const io = captureIo({ HERALD_HTTP_ADDR: '127.0.0.1:1' });
    expect(await runKv(argv, io)).toBe(1);
    expect(io.stderr()).toBe(stderr);
    expect(io.stdout()).toBe('');
  });

  it('refuses a bad uint64 flag with the usage, and lists the subcommands on an unknown one', async () => {
    const io = captureIo();
    expect(await runKv(['put', '-flags=-1', 'k'], io)).toBe(1);
    expect(io.stderr()).toMatch(/^invalid value "-1" for flag -flags: parse error\n\nUsage: herald kv put/);
    const io2 = captureIo();
    expect(await runKv(['list'], io2)).toBe(1);
    expect(io2.stderr()).toMatch(/^Unknown subcommand: "kv list"\n\nUsage: herald kv <subcommand>/);
  });
});
