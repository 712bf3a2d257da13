/**
 * Picks the storage engine from config (DESIGN principle 6): `memory` in dev mode or when no
 * data dir is set, `rocksdb` under `<dataDir>/raft` otherwise (Consul keeps its Raft state in
 * `<data_dir>/raft` too). Like Consul, `-dev` wins over a data dir: dev agents keep nothing.
 */
import { join } from 'node:path';
import { ERR, HeraldError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createMemoryStorage } from './memory-storage.ts';
import { openRocksStorage } from './rocksdb-storage.ts';
import type { Storage, StorageHooks } from './storage.ts';

/** What openStorage reads; a RuntimeConfig satisfies it. */
export interface StorageConfig {
  dev: boolean;
  dataDir?: string;
  /** An explicit choice (config `storage_engine`); absent, the rule above decides. */
  storageEngine?: 'memory' | 'rocksdb';
}

/** The engine openStorage would choose for `config`. */
export function storageEngineFor(config: StorageConfig): 'memory' | 'rocksdb' {
  if (config.storageEngine) return config.storageEngine;
  return config.dev || !config.dataDir ? 'memory' : 'rocksdb';
}

/** The RocksDB directory for a data dir. */
export function storageDir(dataDir: string): string {
  return join(dataDir, 'raft');
}

/**
 * Opens the engine storageEngineFor chooses; rejects STORAGE_OPEN when RocksDB cannot open
 * (the message names the directory, and says so when another process holds it).
 */
export async function openStorage(
  config: StorageConfig,
  opts: { logger?: Logger; hooks?: StorageHooks } = {},
): Promise<Storage> {
  if (storageEngineFor(config) === 'memory') return createMemoryStorage(opts.hooks);
  if (!config.dataDir) throw new HeraldError(ERR.STORAGE_OPEN, 'storage: the rocksdb engine needs a data dir');
  return openRocksStorage({ dir: storageDir(config.dataDir!), logger: opts.logger?.named('storage'), hooks: opts.hooks });
}
