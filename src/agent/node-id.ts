/**
 * The node ID (Consul's `node-id` file): a UUID generated at a server's first start and kept
 * in `<data_dir>/node-id`, so a restarted server is the same Raft voter. A configured
 * node_id wins; in -dev nothing is kept and each run gets a fresh UUID.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ERR, HeraldError } from '../errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The node ID to run with: `configured` when set; else the one in `<dataDir>/node-id`; else a
 * new UUID, written there (atomically, by rename) before it is returned. Throws CONFIG_INVALID
 * when the file holds something that is not a UUID (Consul refuses such a file too).
 */
export function resolveNodeId(configured: string, dataDir: string | undefined): string {
  if (configured) return configured;
  if (!dataDir) return randomUUID();
  const file = join(dataDir, 'node-id');
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    if (!UUID.test(text.toLowerCase())) throw new HeraldError(ERR.CONFIG_INVALID, `${file}: node ID ${JSON.stringify(text)} is not a UUID`);
    return text.toLowerCase();
  }
  const id = randomUUID();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(`${file}.tmp`, id + '\n');
  renameSync(`${file}.tmp`, file);
  return id;
}
