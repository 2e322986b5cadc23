/** Route parameter schemas shared by the topic and record routes. */
export const topicParams = {
  type: 'object',
  additionalProperties: false,
  required: ['topic'],
  properties: { topic: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export const partitionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['topic', 'partition'],
  properties: {
    topic: { type: 'string', minLength: 1, maxLength: 256 },
    partition: { type: 'integer', minimum: 0, maximum: 4095 },
  },
} as const;
