import { ACTIONS } from '../../src/policy/index.js';

/**
 * A policy file (`admin.yaml`) letting the principal `name` do every action on every topic,
 * group and the cluster: the administrator of tests that bring their own policy set.
 */
export function adminPolicy(name = 'admin', ruleId = 'admin'): string {
  return `
version: 1
rules:
  - id: ${ruleId}
    effect: allow
    principals: [{name: ${name}}]
    resources: [{topic: ">"}, {group: ">"}, {cluster: true}]
    actions: [${ACTIONS.join(', ')}]
`;
}
