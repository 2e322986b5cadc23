import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestBroker } from './test-broker.js';

/** The `sealbus` executable, as users run it. */
export const SEALBUS_BIN = fileURLToPath(new URL('../../bin/sealbus.js', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `sealbus ARGS` in a child process with `env` (and `input` on stdin); resolves when it exits. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SEALBUS_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** The SEALBUS_* environment that connects the CLI to a test broker as its admin (or `token` file). */
export function cliEnv(t: TestBroker, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SEALBUS_URL: t.url,
    SEALBUS_CA: t.env.files.ca,
    SEALBUS_CERT: t.env.files.adminCert,
    SEALBUS_KEY: t.env.files.adminKey,
    SEALBUS_TOKEN: t.admin.token,
    ...extra,
  };
}
