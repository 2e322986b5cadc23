/**
 * Authorization as the broker sees it: an actor, an action, a resource, a decision. The broker asks
 * once per request or batch (never per record); the policy engine (src/policy) decides behind
 * `Authorizer`. The vocabulary is the policy layer's, re-exported.
 */
import type { Action, Resource, RuleRef } from '../policy/index.js';

export type { Action, Resource } from '../policy/index.js';

/**
 * What the broker needs to know of an authenticated client. `src/auth`'s Principal satisfies it;
 * transports add where the request came from.
 */
export interface Actor {
  readonly name: string;
  readonly certificate?: { readonly spiffeId: string | null; readonly subject: string; readonly fingerprint256: string } | null;
  /** `scopes` null: the token does not narrow the policy; [] narrows it to nothing. */
  readonly token?: {
    readonly groups: readonly string[];
    readonly scopes: readonly string[] | null;
    readonly bound: boolean;
    /** The token's `jti`, recorded in audit events (never the token). */
    readonly jti?: string | null;
  } | null;
  /** The client's address, for policy conditions; null when unknown. */
  readonly sourceIp?: string | null;
  /** The connection (keep-alive HTTP connection or WebSocket session) the request came on, for audit. */
  readonly sessionId?: string;
  /**
   * The request that acted (the HTTP request, or the upgrade that opened a WebSocket session): the
   * `x-request-id` the client was answered with and the `reqId` of the broker's log lines.
   */
  readonly requestId?: string;
}

/** What a request carries beyond who and what: policy conditions look at it. */
export interface AccessContext {
  /** Produce only: whether the batch is an end-to-end envelope. */
  readonly encrypted?: boolean;
}

export interface Decision {
  readonly allowed: boolean;
  /** The rule (or built-in reason) that decided, for audit and explain. */
  readonly rule: string;
  readonly deciding?: readonly RuleRef[];
}

export interface Authorizer {
  authorize(actor: Actor, action: Action, resource: Resource, context?: AccessContext): Decision;
}

export function describeResource(resource: Resource): string {
  return resource.kind === 'cluster' ? 'the cluster' : `${resource.kind} "${resource.name}"`;
}
