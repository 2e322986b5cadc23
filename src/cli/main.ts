import { Command, CommanderError } from 'commander';
import { isSealbusError } from '../errors/index.js';
import { commands } from './commands/index.js';

/**
 * The `sealbus` command. Each verb lives in its own file under `commands/` and registers itself on
 * the program; this file only wires them and turns errors into exit codes.
 * Returns the process exit code (0 ok, 1 failure, 2 usage error).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('sealbus')
    .description('sealbus: a message bus that proves who sent what, who read what, and that nobody else could')
    .exitOverride()
    .showHelpAfterError();
  for (const register of commands) register(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (isSealbusError(err)) {
      process.stderr.write(`sealbus: ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`sealbus: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
