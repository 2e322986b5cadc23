/**
 * Authorization as the broker sees it: an actor, an action, a resource, a decision. The broker asks
 * once per request or batch (never per record); the policy engine plugs in behind `Authorizer`.
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

export type Resource =
  | { readonly kind: 'topic'; readonly name: string }
  | { readonly kind: 'group'; readonly name: string }
  | { readonly kind: 'cluster' };

/** What the broker needs to know of an authenticated client. `src/auth`'s Principal satisfies it. */
export interface Actor {
  readonly name: string;
}

export interface Decision {
  readonly allowed: boolean;
  /** The rule (or built-in reason) that decided, for audit and explain. */
  readonly rule: string;
}

export interface Authorizer {
  authorize(actor: Actor, action: Action, resource: Resource): Decision;
}

export function describeResource(resource: Resource): string {
  return resource.kind === 'cluster' ? 'the cluster' : `${resource.kind} "${resource.name}"`;
}

/**
 * The interim rule until topic policies exist: the configured administrators may do everything,
 * everybody else nothing. Default deny: an empty list admits nobody.
 */
export class AdminOnlyAuthorizer implements Authorizer {
  readonly #admins: ReadonlySet<string>;

  constructor(admins: Iterable<string>) {
    this.#admins = new Set(admins);
  }

  authorize(actor: Actor): Decision {
    return this.#admins.has(actor.name)
      ? { allowed: true, rule: 'builtin:admin' }
      : { allowed: false, rule: 'builtin:default-deny' };
  }
}
