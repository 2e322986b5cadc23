/**
 * The policy sets the sealbus rows run under: a permissive one (the administrator's one rule), and
 * a realistic one: the repository's example set, 50 teams with their own topics and groups, and
 * rules on the benchmark's own topics that every request there must be checked against (deny
 * rules with conditions, group and SPIFFE principals), none of which denies the benchmark client
 * (the administrator of the example set).
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadPolicyDir } from '../../src/policy/index.js';
import { EXAMPLE_POLICIES } from '../../src/server/dev-environment.js';

const EXAMPLE_FILES = ['admin.yaml', 'auditor.yaml', 'consumer-service.yaml', 'payments-encrypted.yaml', 'producer-service.yaml'];
const TEAMS = 50;

type Rule = Record<string, unknown>;

function teamRules(team: number): Rule[] {
  const name = `team${String(team).padStart(2, '0')}`;
  return [
    { id: `${name}-produces`, effect: 'allow', principals: [{ name: `${name}-producer` }, { spiffe: `spiffe://corp.example/ns/${name}/` }], resources: [{ topic: `${name}.>` }], actions: ['produce', 'describe'] },
    { id: `${name}-consumes`, effect: 'allow', principals: [{ name: `${name}-consumer` }, { group: `${name}-readers` }], resources: [{ topic: `${name}.>` }, { group: `${name}.>` }], actions: ['consume', 'commit-offset', 'describe'] },
    { id: `${name}-secure-encrypted`, effect: 'deny', principals: [{ any: true }], resources: [{ topic: `${name}.secure.>` }], actions: ['produce'], conditions: { encrypted: false } },
    { id: `${name}-no-unbound-tokens`, effect: 'deny', principals: [{ any: true }], resources: [{ topicPrefix: `${name}.` }], actions: ['produce', 'consume'], conditions: { tokenBound: false } },
  ];
}

/** Rules on `bench.>` that match the benchmark's requests in part, so each must be evaluated. */
const BENCH_RULES: Rule[] = [
  { id: 'bench-writers-from-the-lan', effect: 'allow', principals: [{ group: 'bench-writers' }], resources: [{ topic: 'bench.>' }], actions: ['produce', 'describe'], conditions: { sourceIp: ['10.0.0.0/8', '192.168.0.0/16'] } },
  { id: 'bench-no-contractors', effect: 'deny', principals: [{ group: 'contractors' }], resources: [{ topic: 'bench.>' }, { group: 'bench.>' }], actions: ['consume', 'produce', 'commit-offset'] },
  // Deny rules on produce whose conditions fail for the benchmark client: checked on every batch.
  // (On consume they would also keep it off the encrypted topics' recipients: a recipient is judged
  // without a live request, and a deny rule whose input is unknown applies.)
  { id: 'bench-bound-tokens-only', effect: 'deny', principals: [{ any: true }], resources: [{ topic: 'bench.>' }], actions: ['produce'], conditions: { tokenBound: false } },
  { id: 'bench-not-from-the-guest-network', effect: 'deny', principals: [{ any: true }], resources: [{ topic: 'bench.>' }], actions: ['produce'], conditions: { sourceIp: ['172.16.0.0/12'] } },
  { id: 'bench-ci-workloads', effect: 'allow', principals: [{ spiffe: 'spiffe://corp.example/ns/ci/' }], resources: [{ topic: 'bench.>' }], actions: ['produce', 'consume', 'describe'] },
];

/** Writes the realistic set into `dir`; returns its number of rules. */
export async function writeRealisticPolicies(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  for (const file of EXAMPLE_FILES) await copyFile(join(EXAMPLE_POLICIES, file), join(dir, file));
  const teams = Array.from({ length: TEAMS }, (_, i) => teamRules(i + 1)).flat();
  await writeFile(join(dir, 'teams.json'), JSON.stringify({ version: 1, rules: teams }, null, 2));
  await writeFile(join(dir, 'bench.json'), JSON.stringify({ version: 1, rules: BENCH_RULES }, null, 2));
  return ruleCount(dir);
}

/** Writes the permissive set (the administrator may do everything, one rule) into `dir`. */
export async function writePermissivePolicies(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  await copyFile(join(EXAMPLE_POLICIES, 'admin.yaml'), join(dir, 'admin.yaml'));
  return ruleCount(dir);
}

/** Loads the set as the broker will (so a mistake shows here, by file and line) and counts its rules. */
async function ruleCount(dir: string): Promise<number> {
  return (await loadPolicyDir(dir)).rules.length;
}
