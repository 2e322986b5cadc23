/**
 * Writes docs/errors.md from the error catalog (`npm run docs:errors`). The catalog test fails
 * when the file is out of step, so a new code cannot ship undocumented.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderErrorDocs } from '../src/errors/docs.js';

const target = fileURLToPath(new URL('../docs/errors.md', import.meta.url));
writeFileSync(target, renderErrorDocs());
process.stdout.write(`wrote ${target}\n`);
