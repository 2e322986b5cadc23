#!/usr/bin/env node
// The sealbus command. Sources are TypeScript, run through tsx's loader so that no build step
// stands between `npm install` and a working broker.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
