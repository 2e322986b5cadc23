import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { decodeJwt } from 'jose';
import type { PolicyExplainRequest } from '../../client/index.js';
import { SealbusError } from '../../errors/index.js';
import { ACTIONS, explain, isAction, lintFailed, lintPolicyDir, loadPolicyDir, type Action, type Explanation, type Resource } from '../../policy/index.js';
import { printJson, withAdmin } from '../admin-client.js';
import { withConnectionOptions, type ConnectionFlags } from '../connection.js';

function parseAction(value: string): Action {
  if (!isAction(value)) throw new InvalidArgumentError(`expected one of ${ACTIONS.join(', ')}`);
  return value;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface ExplainFlags extends ConnectionFlags {
  readonly principal: string;
  readonly action: Action;
  readonly group?: string[];
  readonly topic?: string;
  readonly consumerGroup?: string;
  readonly cluster?: boolean;
  readonly ip?: string;
  readonly spiffe?: string;
  readonly token?: string;
  readonly bound?: boolean;
  readonly encrypted?: boolean;
  readonly dir: string;
  readonly remote?: boolean;
  readonly json?: boolean;
}

/**
 * What a token says about its holder, as the policy reads it: groups, scopes and binding. The
 * signature is not checked here (`sealbus token inspect` does that): explain answers "what would
 * the policy decide for this token", not "is this token valid".
 */
async function tokenClaims(file: string): Promise<{ groups: string[]; scopes: string[] | null; bound: boolean }> {
  const claims = decodeJwt((await readFile(file, 'utf8')).trim());
  const list = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
  const scope = typeof claims.scope === 'string' ? claims.scope.split(' ').filter((s) => s !== '') : list(claims.scopes);
  const cnf = claims.cnf as Record<string, unknown> | undefined;
  return { groups: list(claims.groups), scopes: scope.length === 0 ? null : scope, bound: typeof cnf?.['x5t#S256'] === 'string' };
}

async function requestOf(flags: ExplainFlags): Promise<PolicyExplainRequest> {
  const given = [flags.topic !== undefined, flags.consumerGroup !== undefined, flags.cluster === true].filter(Boolean).length;
  if (given !== 1) throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'name exactly one of --topic, --consumer-group and --cluster' });
  const token = flags.token === undefined ? null : await tokenClaims(flags.token);
  return {
    principal: flags.principal,
    groups: [...(flags.group ?? []), ...(token?.groups ?? [])],
    ...(flags.spiffe !== undefined && { spiffeId: flags.spiffe }),
    tokenBound: flags.bound === true || token?.bound === true,
    ...(token?.scopes != null && { scopes: token.scopes }),
    ...(flags.ip !== undefined && { sourceIp: flags.ip }),
    ...(flags.encrypted !== undefined && { encrypted: flags.encrypted }),
    action: flags.action,
    resource: flags.topic !== undefined ? { topic: flags.topic } : flags.consumerGroup !== undefined ? { group: flags.consumerGroup } : { cluster: true },
  };
}

function resourceOf(resource: PolicyExplainRequest['resource']): Resource {
  if ('topic' in resource) return { kind: 'topic', name: resource.topic };
  if ('group' in resource) return { kind: 'group', name: resource.group };
  return { kind: 'cluster' };
}

function render(explanation: Explanation): string {
  const { decision, request } = explanation;
  const lines = [
    `${decision.allowed ? 'ALLOWED' : 'DENIED'}: ${request.principal} ${decision.allowed ? 'may' : 'may not'} ${request.action} ${request.resource}`,
    `  decided by: ${decision.rule}${decision.deciding.map((r) => ` (${r.file}:${r.line})`).join('')}: ${decision.reason}`,
    `  policy ${explanation.policyVersion}`,
  ];
  if (explanation.scopes !== null) lines.push(`  token scopes restrict the principal; covering scope: ${explanation.scopes.matching ?? 'none'}`);
  if (explanation.rules.length > 0) lines.push('', 'rules that match the principal, action and resource:');
  for (const rule of explanation.rules) {
    lines.push(`  ${rule.effect.padEnd(5)} ${rule.id}  ${rule.file}:${rule.line}  ${rule.outcome}: ${rule.note}`);
    for (const condition of rule.conditions) lines.push(`        ${JSON.stringify(condition)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `sealbus policy lint|explain`. */
export function register(program: Command): void {
  const policy = program.command('policy').description('check policy files and explain decisions');

  policy
    .command('lint [dir]')
    .description('schema errors, shadowed and unreachable rules, patterns that cannot match; exits 1 on errors')
    .option('--json', 'the findings as JSON')
    .action(async (dir: string | undefined, options: { json?: boolean }) => {
      const report = await lintPolicyDir(resolve(dir ?? 'policies'));
      if (options.json === true) printJson(report);
      else {
        for (const f of report.findings) {
          process.stdout.write(`${f.file}:${f.line}: ${f.severity} ${f.code}${f.ruleId === undefined ? '' : ` [${f.ruleId}]`}: ${f.message}\n`);
        }
        const errors = report.findings.filter((f) => f.severity === 'error').length;
        process.stdout.write(`${report.files.length} files, ${errors} errors, ${report.findings.length - errors} warnings\n`);
      }
      if (lintFailed(report)) process.exitCode = 1;
    });

  withConnectionOptions(
    policy
      .command('explain')
      .description('the decision on a request and the rules that made it (exits 0 when allowed, 3 when denied)')
      .requiredOption('--principal <name>', 'principal name, as authentication maps it')
      .requiredOption('--action <action>', ACTIONS.join('|'), parseAction)
      .option('--topic <topic>', 'the resource is this topic')
      .option('--consumer-group <group>', 'the resource is this consumer group')
      .option('--cluster', 'the resource is the cluster (admin actions)')
      .option('--group <group>', "one of the principal's groups or roles (repeat for more)", collect)
      .option('--ip <address>', 'source address of the request')
      .option('--spiffe <id>', "the client certificate's SPIFFE ID")
      .option('--token <file>', 'take groups, scopes and binding from this token (its signature is not checked)')
      .option('--bound', 'the token is bound to the client certificate')
      .option('--encrypted', 'produce: the batch is end-to-end encrypted')
      .option('--dir <dir>', 'the policy files to judge by', 'policies')
      .option('--remote', "ask the broker, which judges by the policy in force (needs describe on the cluster)")
      .option('--json', 'the explanation as JSON'),
  ).action(async (options: ExplainFlags) => {
    const request = await requestOf(options);
    const explanation =
      options.remote === true
        ? await withAdmin(options, (admin) => admin.explainPolicy(request))
        : explain(await loadPolicyDir(resolve(options.dir)), {
            subject: {
              name: request.principal,
              groups: request.groups ?? [],
              spiffeId: request.spiffeId ?? null,
              certificate: null,
              tokenBound: request.tokenBound ?? false,
              scopes: request.scopes ?? null,
            },
            action: request.action,
            resource: resourceOf(request.resource),
            context: { sourceIp: request.sourceIp ?? null, ...(request.encrypted !== undefined && { encrypted: request.encrypted }) },
          });
    if (options.json === true) printJson(explanation);
    else process.stdout.write(render(explanation));
    if (!explanation.decision.allowed) process.exitCode = 3;
  });
}
