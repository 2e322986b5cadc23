import type { Command } from 'commander';
import { parsePort } from '../options.js';
import { DEV_ADMIN, prepareDevEnvironment, writeAdminEnv } from '../../server/dev-environment.js';
import { startBroker } from '../../server/start.js';

/**
 * `sealbus dev`: a working broker in one command, for development. It generates its own CA,
 * certificates, issuer key and admin token, and says so loudly. Every check stays on.
 */
export function register(program: Command): void {
  program
    .command('dev')
    .description('start a development broker with generated certificates and an admin token (checks stay on)')
    .option('--data <dir>', 'folder for certificates, keys and data', '.sealbus')
    .option('--port <n>', 'port to listen on (0: any free port)', parsePort, 8443)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .action(async (options: { data: string; port: number; host: string }) => {
      const env = await prepareDevEnvironment(options.data, { port: options.port, host: options.host });
      const broker = await startBroker(env.config);
      await writeAdminEnv(env, broker);
      const out = process.stdout;
      out.write(
        [
          '',
          '  sealbus DEVELOPMENT broker',
          '  ==========================',
          `  This is a development setup: its CA, certificates, issuer key and admin token were`,
          `  generated under ${env.dir} and are not for production. No check is relaxed:`,
          '  mutual TLS, bound tokens and default-deny are on as they are in production.',
          '',
          `  listening   ${broker.url}`,
          `  data        ${env.config.store.dir}`,
          `  policy      ${env.config.policy.dir} (example set; edits apply at once, see docs/policies.md)`,
          `  admin       principal "${DEV_ADMIN}", certificate and token in ${env.files.env}`,
          '',
          '  In another shell:',
          `    set -a; . ${env.files.env}; set +a`,
          '    npx sealbus topics create demo --partitions 3',
          '    echo hello | npx sealbus produce demo',
          '    npx sealbus consume demo --from-beginning --max 1',
          '',
          '  Ctrl-C stops the broker.',
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      out.write('stopping...\n');
      await broker.close();
    });
}
