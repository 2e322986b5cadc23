import { catalog } from './catalog.js';

/** The Markdown page listing every error code; `docs/errors.md` must equal it. */
export function renderErrorDocs(): string {
  const lines = [
    '# Error codes',
    '',
    'Every error sealbus returns carries one of these codes, on every transport: HTTP answers',
    '`{code, message, retriable, details?}` with the status below; the WebSocket protocol carries',
    '`code`, `message` and `retriable` in ERROR and SUBSCRIPTION_ERROR frames; the SDK throws a',
    '`SealbusError` whose `code` is one of these. Match on the code, never on the message text.',
    '`retriable: yes` means the same request may succeed later unchanged.',
    '',
    'This page is generated from `src/errors/` by `npm run docs:errors`.',
    '',
    '| code | HTTP | retriable | message |',
    '| --- | --- | --- | --- |',
  ];
  for (const [code, spec] of Object.entries(catalog).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| \`${code}\` | ${spec.status} | ${spec.retriable ? 'yes' : 'no'} | ${spec.message.replace(/\|/g, '\\|')} |`);
  }
  return `${lines.join('\n')}\n`;
}
