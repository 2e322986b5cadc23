/**
 * A `sealbus dev` broker with configuration keys merged over the development setup, for benchmarks
 * of settings `sealbus dev` does not take (fsync interval, audit detail, policy directory). Run by
 * `startDevBroker(dir, { config })`: `node --import tsx bench/compare/tuned-broker.ts DIR` with the
 * keys as JSON in SEALBUS_BENCH_CONFIG. It goes through the same `startBroker` as `sealbus serve`,
 * and says it listens with the line `sealbus dev` prints.
 */
import { configFromObject } from '../../src/config/index.js';
import { prepareDevEnvironment, writeAdminEnv } from '../../src/server/dev-environment.js';
import { startBroker } from '../../src/server/start.js';

type Tree = { [key: string]: unknown };

function isTree(value: unknown): value is Tree {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = isTree(value) && isTree(out[key]) ? merge(out[key], value) : value;
  return out;
}

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: tuned-broker.ts DIR (configuration keys as JSON in SEALBUS_BENCH_CONFIG)');
const overrides: unknown = JSON.parse(process.env.SEALBUS_BENCH_CONFIG ?? '{}');
if (!isTree(overrides)) throw new Error('SEALBUS_BENCH_CONFIG must be a JSON object');

const env = await prepareDevEnvironment(dir, { port: 0 });
// The development configuration, already validated, with its paths made absolute; `source` is
// not a configuration key but the name configFromObject gives it.
const { source: _source, ...base } = structuredClone(env.config) as unknown as Tree;
const config = configFromObject(merge(base, overrides), `sealbus bench (${env.dir})`, env.dir);
const broker = await startBroker(config);
await writeAdminEnv({ ...env, config }, broker);
process.stdout.write(`sealbus bench broker on ${broker.url}; Ctrl-C stops the broker.\n`);
await new Promise<void>((resolve) => {
  process.once('SIGINT', () => resolve());
  process.once('SIGTERM', () => resolve());
});
await broker.close();
