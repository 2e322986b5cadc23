import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXAMPLE_POLICIES } from '../../src/server/dev-environment.js';

/**
 * Writes `sealbus.yaml` into a folder prepared by `prepareDevEnvironment` (for its certificates),
 * as an operator would for `sealbus serve --config`: loopback, port 0, the example policies, data
 * under the folder. Returns the file's path.
 */
export async function writeServeConfig(dir: string): Promise<string> {
  const file = join(dir, 'sealbus.yaml');
  await writeFile(
    file,
    [
      'listen: {host: 127.0.0.1, port: 0}',
      'tls: {cert: certs/server.crt, key: certs/server.key, ca: certs/ca.crt}',
      `policy: {dir: ${JSON.stringify(EXAMPLE_POLICIES)}}`,
      'store: {dir: data}',
      'log: {level: info}',
      '',
    ].join('\n'),
  );
  return file;
}
