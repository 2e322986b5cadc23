import { Admin } from '../client/index.js';
import { connectionFrom, type ConnectionFlags } from './connection.js';

/** Runs `work` with an Admin client built from the connection flags, and releases it after. */
export async function withAdmin<T>(flags: ConnectionFlags, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ connection: connectionFrom(flags) });
  try {
    return await work(admin);
  } finally {
    admin.close();
  }
}

/** Pretty JSON on stdout, for `--json` and describe verbs. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
