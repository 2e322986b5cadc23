import type { Command } from 'commander';
import { loadConfigFile } from '../../config/index.js';
import { startBroker } from '../../server/start.js';

/** `sealbus serve --config sealbus.yaml`: the production start. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('start the broker from a configuration file')
    .requiredOption('--config <file>', 'configuration file (YAML or JSON); see docs/configuration.md')
    .action(async (options: { config: string }) => {
      const config = await loadConfigFile(options.config);
      const broker = await startBroker(config);
      for (const problem of broker.recovery.problems) {
        broker.app.log.warn({ problem }, 'recovered the log store');
      }
      broker.app.log.info({ url: broker.url }, 'sealbus is listening');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await broker.close();
    });
}
