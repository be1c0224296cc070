// Operation → handler lookup. The default registry holds the bundled handlers; library users add
// their own with `registerHandler`, or give createWorker a registry of their own.
import { WorkerError } from '../protocol/errors.js';
import type { AnyHandler, HandlerAvailability, JobHandler } from './types.js';

/** A handler's availability; a throwing probe counts as unavailable. */
export async function handlerAvailability(handler: AnyHandler): Promise<HandlerAvailability> {
  if (!handler.available) return { available: true };
  return handler.available().catch((err: unknown) => ({ available: false, reason: String(err) }));
}

export class HandlerRegistry {
  private readonly handlers = new Map<string, AnyHandler>();
  private changes = 0;

  /** Bumped by every register/unregister: lets callers cache what they derive from the handlers. */
  get revision(): number {
    return this.changes;
  }

  register<TData>(handler: JobHandler<TData>, options: { replace?: boolean } = {}): this {
    if (!handler.operation.includes('.')) {
      throw new WorkerError(
        'VALIDATION_ERROR',
        `Handler operation '${handler.operation}' must be namespaced (e.g., 'guestkit.inspect')`,
      );
    }
    if (handler.payloadTypes.length === 0) {
      throw new WorkerError('VALIDATION_ERROR', `Handler '${handler.operation}' declares no payload types`);
    }
    if (this.handlers.has(handler.operation) && !options.replace) {
      throw new WorkerError(
        'VALIDATION_ERROR',
        `A handler for '${handler.operation}' is already registered (pass { replace: true } to replace it)`,
      );
    }
    this.handlers.set(handler.operation, handler);
    this.changes++;
    return this;
  }

  unregister(operation: string): boolean {
    const had = this.handlers.delete(operation);
    if (had) this.changes++;
    return had;
  }

  get(operation: string): AnyHandler | undefined {
    return this.handlers.get(operation);
  }

  has(operation: string): boolean {
    return this.handlers.has(operation);
  }

  /** Sorted operation names (capability document). */
  operations(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /** Operations whose handler's tools are present (`available()`), sorted. */
  async availableOperations(): Promise<string[]> {
    const checks = await Promise.all(
      [...this.handlers.values()].map(async (h) =>
        (await handlerAvailability(h)).available ? h.operation : null,
      ),
    );
    return checks.filter((op): op is string => op !== null).sort();
  }

  /** A copy: same handlers, independent registrations. */
  clone(): HandlerRegistry {
    const copy = new HandlerRegistry();
    for (const h of this.handlers.values()) copy.register(h);
    return copy;
  }
}
