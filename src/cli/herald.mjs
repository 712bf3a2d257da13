#!/usr/bin/env node
// The `herald` executable. Herald is TypeScript run through tsx's loader (no build step), so a
// fresh clone runs as soon as `npm install` has finished.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
