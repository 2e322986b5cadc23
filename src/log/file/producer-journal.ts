import { ProducerRegistry, type ProducerRegistration } from '../producer-registry.js';
import type { RecoveryProblem } from '../types.js';
import type { LogFileSystem } from './fs-seam.js';
import { Journal } from './journal.js';
import { journalProblems } from './offset-commits.js';

const COMPACT_MIN_BYTES = 1024 * 1024;

function isRegistration(value: unknown): value is { n: string | null; id: number; e: number } {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    (record['n'] === null || typeof record['n'] === 'string') &&
    Number.isSafeInteger(record['id']) &&
    Number.isSafeInteger(record['e'])
  );
}

/**
 * Producer ids and epochs, made durable before `initProducer` answers: after a restart an id is
 * never handed out twice and a fenced instance stays fenced.
 */
export class ProducerJournal {
  private constructor(
    private readonly journal: Journal,
    readonly registry: ProducerRegistry,
  ) {}

  static async open(fileSystem: LogFileSystem, path: string): Promise<{ producers: ProducerJournal; problems: RecoveryProblem[] }> {
    const { journal, values, damage } = await Journal.open(fileSystem, path);
    const registry = new ProducerRegistry();
    for (const value of values) {
      if (isRegistration(value)) registry.apply({ name: value.n, producerId: value.id, epoch: value.e });
    }
    return { producers: new ProducerJournal(journal, registry), problems: journalProblems('producers.journal', damage) };
  }

  async register(name: string | null): Promise<ProducerRegistration> {
    // Applied before it is durable so that two concurrent inits of one name get distinct epochs.
    const registrations = this.registry.next(name);
    for (const registration of registrations) this.registry.apply(registration);
    await Promise.all(registrations.map((entry) => this.journal.append({ n: entry.name, id: entry.producerId, e: entry.epoch })));
    if (this.journal.bytes > COMPACT_MIN_BYTES) {
      const all = this.registry.registrations();
      if (this.journal.bytes > all.length * 200) {
        await this.journal.rewrite(all.map((entry) => ({ n: entry.name, id: entry.producerId, e: entry.epoch })));
      }
    }
    return registrations.at(-1)!;
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
