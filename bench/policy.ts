/**
 * Policy decisions per second with 1,000 rules (`npm run bench:policy`).
 *
 * uncached  Policy.evaluate over a working set of requests: the index lookup, principal and
 *           condition checks, decision object.
 * cached    PolicyEngine.decide over the same working set once the cache holds it: key building
 *           and the LRU lookup; once with one subject object per principal reused by its
 *           requests (as the broker keeps one per session: recognised by identity), once with a
 *           new copy of the subject on every call (keyed by its content).
 *
 * The rules mix literal topics, '*' and '>' patterns, prefixes, consumer groups, group and SPIFFE
 * principals, conditions and deny rules. Each measurement runs RUNS times; medians are printed.
 */
import { Policy, PolicyEngine, type PolicyRequest, type PolicySource, type PolicySubject } from '../src/policy/index.js';

const RUNS = 5;
const BUDGET_MS = 500;
const RULES = 1000;
const FILES = 10;
const TEAMS = 50;
const SERVICES = 200;
const WORKING_SET = 2000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function ruleText(i: number): string {
  const team = i % TEAMS;
  const service = i % SERVICES;
  const head = (id: string, effect: string, principal: string) => `  - id: ${id}\n    effect: ${effect}\n    principals: [${principal}]\n`;
  switch (i % 8) {
    case 0:
      return `${head(`literal-${i}`, 'allow', `{ name: svc-${service} }`)}    resources: [{ topic: svc-${service}.events.${i} }]\n    actions: [produce, describe]\n`;
    case 1:
      return `${head(`star-${i}`, 'allow', `{ group: team-${team} }`)}    resources: [{ topic: team${team}.*.events }]\n    actions: [consume, describe]\n`;
    case 2:
      return `${head(`tail-${i}`, 'allow', `{ name: svc-${service} }, { group: team-${team} }`)}    resources: [{ topic: team${team}.p${i}.> }]\n    actions: [produce, consume]\n`;
    case 3:
      return `${head(`prefix-${i}`, 'allow', `{ name: svc-${service} }`)}    resources: [{ topicPrefix: tmp-${team}-${i}- }]\n    actions: [produce, consume, describe]\n`;
    case 4:
      return `${head(`groups-${i}`, 'allow', `{ name: svc-${service} }`)}    resources: [{ group: team${team}.g${i}.> }, { groupPrefix: svc-${service}-${i}- }]\n    actions: [consume, commit-offset]\n`;
    case 5:
      return `${head(`spiffe-${i}`, 'allow', `{ spiffe: spiffe://example.org/ns/team${team}/ }`)}    resources: [{ topic: team${team}.s${i}.> }]\n    actions: [consume]\n    conditions: { sourceIp: [10.0.0.0/8] }\n`;
    case 6:
      return `${head(`deny-${i}`, 'deny', '{ any: true }')}    resources: [{ topic: team${team}.p${i - 4}.secret.> }]\n    actions: [consume]\n`;
    default:
      return `${head(`sealed-${i}`, 'allow', `{ name: svc-${service} }`)}    resources: [{ topic: sealed.${i} }]\n    actions: [produce]\n    conditions: { encrypted: true, tokenBound: true }\n`;
  }
}

function sources(): PolicySource[] {
  const perFile = RULES / FILES;
  return Array.from({ length: FILES }, (_, f) => ({
    file: `bench-${f}.yaml`,
    text: `version: 1\nrules:\n${Array.from({ length: perFile }, (_, r) => ruleText(f * perFile + r)).join('')}`,
  }));
}

function subjectOf(i: number): PolicySubject {
  return {
    name: `svc-${i % SERVICES}`,
    groups: [`team-${i % TEAMS}`, 'staff'],
    spiffeId: `spiffe://example.org/ns/team${i % TEAMS}/svc-${i % SERVICES}`,
    certificate: { subject: `CN=svc-${i % SERVICES}`, thumbprint: 'A'.repeat(43) },
    tokenBound: i % 2 === 0,
    scopes: null,
  };
}

/**
 * Requests aimed at the rules (each one at a rule of every kind in turn, with the principal that
 * rule names), so that most are allowed, some fall to a deny rule, and every fourth misses.
 */
function workingSet(): PolicyRequest[] {
  const subjects = new Map<number, PolicySubject>();
  return Array.from({ length: WORKING_SET }, (_, n): PolicyRequest => {
    const j = (n * 7919) % RULES;
    const team = j % TEAMS;
    // One subject object per principal, shared by its requests, as a session keeps one.
    const subject = subjects.get(j) ?? subjects.set(j, subjectOf(j)).get(j)!;
    const context = { sourceIp: `10.0.${n % 250}.1`, encrypted: true };
    const topic = (name: string) => ({ kind: 'topic' as const, name });
    if (n % 4 === 3) return { subject, action: 'produce', resource: topic(`unknown.topic.${n}`), context };
    switch (j % 8) {
      case 0:
        return { subject, action: 'produce', resource: topic(`svc-${j % SERVICES}.events.${j}`), context };
      case 1:
        return { subject, action: 'consume', resource: topic(`team${team}.x${n}.events`), context };
      case 2:
        return { subject, action: 'produce', resource: topic(`team${team}.p${j}.a.b`), context };
      case 3:
        return { subject, action: 'produce', resource: topic(`tmp-${team}-${j}-scratch`), context };
      case 4:
        return { subject, action: 'commit-offset', resource: { kind: 'group', name: `team${team}.g${j}.readers` }, context };
      case 5:
        return { subject, action: 'consume', resource: topic(`team${team}.s${j}.feed`), context };
      case 6:
        return { subject, action: 'consume', resource: topic(`team${team}.p${j - 4}.secret.a`), context };
      default:
        return { subject, action: 'produce', resource: topic(`sealed.${j}`), context };
    }
  });
}

function rate(work: (request: PolicyRequest) => unknown, requests: PolicyRequest[]): number {
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < BUDGET_MS) {
    for (const request of requests) work(request);
    count += requests.length;
    elapsed = performance.now() - start;
  }
  return count / (elapsed / 1000);
}

const compileStart = performance.now();
const policy = Policy.compile(sources());
const compileMs = performance.now() - compileStart;
const requests = workingSet();
const decisions = requests.map((request) => policy.evaluate(request));
const allowed = decisions.filter((decision) => decision.allowed).length;
const byDeny = decisions.filter((decision) => !decision.allowed && decision.rule !== 'default-deny').length;

function cachedRate(freshSubjects: boolean): number {
  const engine = new PolicyEngine(policy, { cacheSize: 10_000 });
  for (const request of requests) engine.decide(request);
  // A copy of the subject on every call: the engine cannot know it by identity and keys it by content.
  if (freshSubjects) return rate((request) => engine.decide({ ...request, subject: { ...request.subject } }), requests);
  return rate((request) => engine.decide(request), requests);
}

const uncached: number[] = [];
const cached: number[] = [];
const cachedPlain: number[] = [];
for (let run = 0; run < RUNS; run++) {
  uncached.push(rate((request) => policy.evaluate(request), requests));
  cached.push(cachedRate(false));
  cachedPlain.push(cachedRate(true));
}

const format = (n: number) => `${(n / 1e6).toFixed(2)} M/s`;
process.stdout.write(
  [
    `policy: ${policy.rules.length} rules in ${policy.files.length} files, compiled in ${compileMs.toFixed(0)} ms`,
    `working set: ${requests.length} requests: ${allowed} allowed, ${byDeny} denied by a deny rule, ${requests.length - allowed - byDeny} by default`,
    `uncached (Policy.evaluate):                 ${format(median(uncached))}   runs: ${uncached.map(format).join(', ')}`,
    `cached, one subject object per session:     ${format(median(cached))}   runs: ${cached.map(format).join(', ')}`,
    `cached, a new subject object on every call: ${format(median(cachedPlain))}   runs: ${cachedPlain.map(format).join(', ')}`,
    '',
  ].join('\n'),
);
