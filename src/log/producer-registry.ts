import { SealbusError } from '../errors/index.js';
import type { ProducerStamp } from './types.js';

/** Epochs are u16 on disk and 0xffff means "no epoch", so the last usable one is 0xfffe. */
export const MAX_PRODUCER_EPOCH = 0xfffe;
const MAX_PRODUCER_NAME = 255;

export interface ProducerRegistration {
  readonly name: string | null;
  readonly producerId: number;
  readonly epoch: number;
}

export function assertProducerName(name: unknown): asserts name is string | null {
  if (name === null) return;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_PRODUCER_NAME || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', {
      reason: `a producer name is 1 to ${MAX_PRODUCER_NAME} characters without control characters`,
    });
  }
}

/**
 * Which producer ids exist and their current epoch. The store checks every stamped append against
 * it, so an older instance is fenced on every partition, not only on those the new one wrote to.
 */
export class ProducerRegistry {
  private readonly byName = new Map<string, number>();
  private readonly epochs = new Map<number, number>();
  private nextId = 1;

  /** Applies a registration (new, or replayed from the journal at open). */
  apply(registration: ProducerRegistration): void {
    this.epochs.set(registration.producerId, registration.epoch);
    if (registration.name !== null) this.byName.set(registration.name, registration.producerId);
    this.nextId = Math.max(this.nextId, registration.producerId + 1);
  }

  /**
   * The registrations `initProducer(name)` makes, to apply (and persist) in order: the known id with
   * its epoch bumped, or a new id. When a name has used up its epochs, its old id is first retired at
   * an epoch no stamp can carry, which fences it for good, and the name moves to a new id.
   */
  next(name: string | null): ProducerRegistration[] {
    const known = name === null ? undefined : this.byName.get(name);
    const epoch = known === undefined ? undefined : this.epochs.get(known);
    if (known === undefined || epoch === undefined) return [{ name, producerId: this.nextId, epoch: 0 }];
    if (epoch < MAX_PRODUCER_EPOCH) return [{ name, producerId: known, epoch: epoch + 1 }];
    return [
      { name: null, producerId: known, epoch: MAX_PRODUCER_EPOCH + 1 },
      { name, producerId: this.nextId, epoch: 0 },
    ];
  }

  /** Throws unless the stamp names a registered producer at its current epoch. */
  check(stamp: ProducerStamp): void {
    const current = this.epochs.get(stamp.producerId);
    if (current === undefined || stamp.epoch > current) {
      throw new SealbusError('SEALBUS_ERR_PRODUCER_UNKNOWN', { producerId: stamp.producerId });
    }
    if (stamp.epoch < current) {
      throw new SealbusError('SEALBUS_ERR_PRODUCER_FENCED', {
        producerId: stamp.producerId,
        epoch: stamp.epoch,
        currentEpoch: current,
      });
    }
  }

  /** The live registrations, enough to rebuild this registry (used to compact its journal). */
  registrations(): ProducerRegistration[] {
    const names = new Map<number, string>();
    for (const [name, producerId] of this.byName) names.set(producerId, name);
    const out: ProducerRegistration[] = [];
    for (const [producerId, epoch] of this.epochs) {
      out.push({ name: names.get(producerId) ?? null, producerId, epoch });
    }
    return out;
  }
}
