import { describe, it } from 'vitest';
import { scopeTarget, spiffeTarget, topicNameTarget } from './names.js';
import { runTarget } from './run-target.js';

describe('fuzz: names from clients', () => {
  it(topicNameTarget.name, () => runTarget(topicNameTarget, ['assertTopicName: ok', 'assertTopicName: SEALBUS_ERR_TOPIC_NAME_INVALID']));
  it(scopeTarget.name, () => runTarget(scopeTarget, ['parseScope: ok', 'parseScope: SEALBUS_ERR_POLICY_SCOPE_INVALID']));
  it(spiffeTarget.name, () => runTarget(spiffeTarget));
});
