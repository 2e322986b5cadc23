import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/index.js';
import { ACTIONS, explain, type Action, type Policy, type Resource } from '../../policy/index.js';
import { principalOf } from '../context.js';

const name = { type: 'string', minLength: 1, maxLength: 1024 } as const;

const explainBody = {
  type: 'object',
  additionalProperties: false,
  required: ['principal', 'action', 'resource'],
  properties: {
    principal: name,
    groups: { type: 'array', maxItems: 256, items: name },
    spiffeId: { type: 'string', minLength: 1, maxLength: 2048 },
    certificate: {
      type: 'object',
      additionalProperties: false,
      required: ['subject', 'thumbprint'],
      properties: { subject: { type: 'string', maxLength: 2048 }, thumbprint: { type: 'string', maxLength: 128 } },
    },
    tokenBound: { type: 'boolean' },
    scopes: { type: 'array', maxItems: 256, items: name },
    sourceIp: { type: 'string', minLength: 2, maxLength: 64 },
    encrypted: { type: 'boolean' },
    action: { type: 'string', enum: [...ACTIONS] },
    resource: {
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['topic'], properties: { topic: name } },
        { type: 'object', additionalProperties: false, required: ['group'], properties: { group: name } },
        { type: 'object', additionalProperties: false, required: ['cluster'], properties: { cluster: { const: true } } },
      ],
    },
  },
} as const;

/** The body of POST /v1/policy/explain: a request to judge, as the policy sees it. */
export interface ExplainBody {
  readonly principal: string;
  readonly groups?: string[];
  readonly spiffeId?: string;
  readonly certificate?: { subject: string; thumbprint: string };
  readonly tokenBound?: boolean;
  readonly scopes?: string[];
  readonly sourceIp?: string;
  readonly encrypted?: boolean;
  readonly action: Action;
  readonly resource: { topic: string } | { group: string } | { cluster: true };
}

function resourceOf(body: ExplainBody['resource']): Resource {
  if ('topic' in body) return { kind: 'topic', name: body.topic };
  if ('group' in body) return { kind: 'group', name: body.group };
  return { kind: 'cluster' };
}

/**
 * `GET /v1/policy`: the version and files in force. `POST /v1/policy/explain`: the decision the
 * policy in force makes on a request, and every rule that took part, with file and line. Both
 * reveal the policy, so both need `describe` on the cluster.
 */
export function registerPolicyRoutes(app: FastifyInstance, broker: Broker, policy: () => Policy): void {
  app.get('/v1/policy', async (request) => {
    broker.authorize(principalOf(request), 'describe', { kind: 'cluster' });
    const current = policy();
    return { version: current.version, files: current.files, rules: current.rules.length };
  });

  app.post<{ Body: ExplainBody }>('/v1/policy/explain', { schema: { body: explainBody } }, async (request) => {
    broker.authorize(principalOf(request), 'describe', { kind: 'cluster' });
    const body = request.body;
    return explain(policy(), {
      subject: {
        name: body.principal,
        groups: body.groups ?? [],
        spiffeId: body.spiffeId ?? null,
        certificate: body.certificate ?? null,
        tokenBound: body.tokenBound ?? false,
        scopes: body.scopes ?? null,
      },
      action: body.action,
      resource: resourceOf(body.resource),
      context: { sourceIp: body.sourceIp ?? null, ...(body.encrypted !== undefined && { encrypted: body.encrypted }) },
    });
  });
}
