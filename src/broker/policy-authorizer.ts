import type { PolicyEngine, PolicySubject } from '../policy/index.js';
import type { AccessContext, Action, Actor, Authorizer, Decision, Resource } from './access.js';

/**
 * The broker's authorizer: turns an actor into the policy engine's subject and asks the engine
 * (whose decisions are cached and replaced atomically on reload). A token's scopes narrow what the
 * policy grants; a token without scopes does not narrow it.
 */
export class PolicyAuthorizer implements Authorizer {
  readonly #engine: PolicyEngine;
  // Sessions keep one actor object for their life: its subject is built once.
  readonly #subjects = new WeakMap<Actor, PolicySubject>();

  constructor(engine: PolicyEngine) {
    this.#engine = engine;
  }

  authorize(actor: Actor, action: Action, resource: Resource, context: AccessContext = {}): Decision {
    const decision = this.#engine.decide({
      subject: this.subjectOf(actor),
      action,
      resource,
      context: { sourceIp: actor.sourceIp ?? null, ...(context.encrypted !== undefined && { encrypted: context.encrypted }) },
    });
    return { allowed: decision.allowed, rule: decision.rule, deciding: decision.deciding };
  }

  subjectOf(actor: Actor): PolicySubject {
    let subject = this.#subjects.get(actor);
    if (subject === undefined) {
      const { certificate, token } = actor;
      subject = {
        name: actor.name,
        groups: token?.groups ?? [],
        spiffeId: certificate?.spiffeId ?? null,
        certificate: certificate === undefined || certificate === null ? null : { subject: certificate.subject, thumbprint: certificate.fingerprint256 },
        tokenBound: token?.bound ?? false,
        scopes: token?.scopes ?? null,
      };
      this.#subjects.set(actor, subject);
    }
    return subject;
  }
}
