import { ACTIONS } from '../../src/policy/index.js';

/**
 * A policy file (`admin.yaml`) letting the principal `name` do every action on every topic,
 * group and the cluster: the administrator of tests that bring their own policy set.
 */
export function adminPolicy(name = 'admin', ruleId = 'admin'): string {
  return allowEverything([name], ruleId);
}

/**
 * A policy file letting each of `names` do every action on every topic, group and the cluster:
 * for tests where something other than the policy (quotas, limits) tells principals apart.
 */
export function allowEverything(names: readonly string[], ruleId = 'everything'): string {
  return `
version: 1
rules:
  - id: ${ruleId}
    effect: allow
    principals: [${names.map((name) => `{name: ${name}}`).join(', ')}]
    resources: [{topic: ">"}, {group: ">"}, {cluster: true}]
    actions: [${ACTIONS.join(', ')}]
`;
}
