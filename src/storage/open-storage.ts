/**
 * Picks the storage engine from config (DESIGN principle 6): `memory` in dev mode or when no
 * data dir is set, `rocksdb` under `<dataDir>/raft` otherwise (Consul keeps its Raft state in
 * `<data_dir>/raft` too). Like Consul, `-dev` wins over a data dir: dev agents keep nothing.
 */
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { createMemoryStorage } from './memory-storage.ts';
import { openRocksStorage } from './rocksdb-storage.ts';
import type { Storage, StorageHooks } from './storage.ts';

/** What openStorage reads; a RuntimeConfig satisfies it. */
export interface StorageConfig {
  dev: boolean;
  dataDir?: string;
}

/** The engine openStorage would choose for `config`. */
export function storageEngineFor(config: StorageConfig): 'memory' | 'rocksdb' {
  return config.dev || !config.dataDir ? 'memory' : 'rocksdb';
}

/** The RocksDB directory for a data dir. */
export function storageDir(dataDir: string): string {
  return join(dataDir, 'raft');
}

/** Opens the engine storageEngineFor chooses; rejects STORAGE_OPEN when RocksDB cannot open. */
export async function openStorage(
  config: StorageConfig,
  opts: { logger?: Logger; hooks?: StorageHooks } = {},
): Promise<Storage> {
  if (storageEngineFor(config) === 'memory') return createMemoryStorage(opts.hooks);
  return openRocksStorage({ dir: storageDir(config.dataDir!), logger: opts.logger?.named('storage'), hooks: opts.hooks });
}
