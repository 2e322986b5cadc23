/**
 * One row of the error catalog. `message` is a template: `{name}` is replaced by the parameter of
 * that name. Messages never carry secrets: parameters are names, numbers and codes, never tokens,
 * keys or payloads.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly retriable: boolean;
  readonly message: string;
}

export type ErrorTable = Readonly<Record<string, ErrorSpec>>;
