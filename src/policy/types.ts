/**
 * The vocabulary of authorization: who asks (a subject), to do what (an action), on what (a
 * resource), in which circumstances (a context). The broker re-exports these; the policy layer
 * knows nothing of the broker, so dependencies keep pointing down.
 */
export type Action =
  | 'produce'
  | 'consume'
  | 'describe'
  | 'create'
  | 'delete'
  | 'alter'
  | 'commit-offset'
  | 'issue-token'
  | 'manage-keys'
  | 'read-audit'
  | 'manage-schemas';

export const ACTIONS: readonly Action[] = Object.freeze([
  'produce',
  'consume',
  'describe',
  'create',
  'delete',
  'alter',
  'commit-offset',
  'issue-token',
  'manage-keys',
  'read-audit',
  'manage-schemas',
] as const);

export type ResourceKind = 'topic' | 'group' | 'cluster';

export type Resource =
  | { readonly kind: 'topic'; readonly name: string }
  | { readonly kind: 'group'; readonly name: string }
  | { readonly kind: 'cluster' };

/**
 * Which resource kinds each action is asked about. A rule granting an action on a kind outside
 * this table can never take effect (the evaluator ignores such pairs and lint reports them), so
 * that "produce on the cluster" cannot become a loophole the broker did not foresee.
 */
export const ACTION_RESOURCE_KINDS: Readonly<Record<Action, readonly ResourceKind[]>> = Object.freeze({
  produce: ['topic'],
  consume: ['topic', 'group'],
  describe: ['topic', 'group', 'cluster'],
  create: ['topic', 'cluster'],
  delete: ['topic', 'group'],
  alter: ['topic', 'group', 'cluster'],
  'commit-offset': ['group', 'topic'],
  'issue-token': ['cluster'],
  'manage-keys': ['cluster'],
  'read-audit': ['cluster'],
  'manage-schemas': ['topic'],
});

export function isAction(value: unknown): value is Action {
  return typeof value === 'string' && Object.hasOwn(ACTION_RESOURCE_KINDS, value);
}

export function actionApplies(action: Action, kind: ResourceKind): boolean {
  return ACTION_RESOURCE_KINDS[action].includes(kind);
}

/** Who asks. Built by the caller from an authenticated principal; every field can change the answer. */
export interface PolicySubject {
  /** The principal name, already mapped by authentication. */
  readonly name: string;
  /** Groups or roles from the configured JWT claim; [] when none. */
  readonly groups: readonly string[];
  /** The client certificate's SPIFFE URI SAN, if any. */
  readonly spiffeId: string | null;
  /** RFC 4514-style subject DN and base64url SHA-256 thumbprint of the client certificate. */
  readonly certificate: { readonly subject: string; readonly thumbprint: string } | null;
  /** The token carries cnf.x5t#S256 matching the certificate. */
  readonly tokenBound: boolean;
  /** Token scopes; null means the token does not restrict the principal's rights. */
  readonly scopes: readonly string[] | null;
}

export interface PolicyContext {
  /** As Node reports it (possibly IPv4-mapped IPv6, '::ffff:1.2.3.4'); null when unknown. */
  readonly sourceIp: string | null;
  /** Produce only: whether the batch is an end-to-end envelope; undefined when unknown. */
  readonly encrypted?: boolean;
}

export interface PolicyRequest {
  readonly subject: PolicySubject;
  readonly action: Action;
  readonly resource: Resource;
  readonly context: PolicyContext;
}

/** Where a rule is written, for audit, explain and lint. Lines are 1-based. */
export interface RuleRef {
  readonly id: string;
  readonly effect: 'allow' | 'deny';
  readonly file: string;
  readonly line: number;
}

export interface PolicyDecision {
  readonly allowed: boolean;
  /** The deciding rule id, 'default-deny', or 'scope' when the token's scopes removed the right. */
  readonly rule: string;
  /** Denied: every matching deny rule. Allowed: the matching allow rules. Default deny and scope: []. */
  readonly deciding: readonly RuleRef[];
  /** One sentence for people; never a secret. */
  readonly reason: string;
}

export interface PolicySource {
  /** Path relative to the policy directory, used in messages. */
  readonly file: string;
  readonly text: string;
}

export type LintSeverity = 'error' | 'warning';

/** A problem in a policy set. Compilation refuses a set with any error; lint reports them all. */
export interface LintFinding {
  readonly severity: LintSeverity;
  /** Stable identifier, listed in docs/policies.md. */
  readonly code: string;
  readonly file: string;
  readonly line: number;
  readonly ruleId?: string;
  readonly message: string;
}

export interface LintReport {
  readonly files: readonly string[];
  readonly findings: readonly LintFinding[];
}

export function describeResource(resource: Resource): string {
  return resource.kind === 'cluster' ? 'the cluster' : `${resource.kind} "${resource.name}"`;
}
