import type { Command } from 'commander';
import { register as audit } from './audit.js';
import { register as certs } from './certs.js';
import { register as consume } from './consume.js';
import { register as dev } from './dev.js';
import { register as groups } from './groups.js';
import { register as keys } from './keys.js';
import { register as logCheck } from './log-check.js';
import { register as policy } from './policy.js';
import { register as produce } from './produce.js';
import { register as schemas } from './schemas.js';
import { register as serve } from './serve.js';
import { register as token } from './token.js';
import { register as topics } from './topics.js';

/** Every verb of the CLI: each file exports one `register(program)`. Add new verbs here. */
export const commands: ReadonlyArray<(program: Command) => void> = [dev, serve, certs, topics, produce, consume, groups, schemas, policy, token, keys, audit, logCheck];
