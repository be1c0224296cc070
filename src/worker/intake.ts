// What every Worker (local or Redis) checks first when a job is submitted: the envelope (protocol
// §2 order and messages), a handler for the operation, and the handler's payload type and data.
import type { AnyHandler } from '../handlers/types.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { WorkerError, asWorkerError, isCodedError } from '../protocol/errors.js';
import { validateEnvelope } from '../protocol/validate.js';

export type Intake = ReturnType<typeof validateEnvelope> & { handler: AnyHandler };

/** Validates the envelope and finds its handler; throws the protocol's WorkerErrors. */
export function intakeEnvelope(input: unknown, registry: HandlerRegistry): Intake {
  const validated = validateEnvelope(input);
  const { envelope } = validated;
  const handler = registry.get(envelope.operation);
  if (!handler) {
    throw new WorkerError(
      'UNSUPPORTED_OPERATION',
      `Unsupported operation: ${envelope.operation} (this worker supports: ${registry.operations().join(', ')})`,
      { phase: 'validation', details: { operation: envelope.operation } },
    );
  }
  if (!handler.payloadTypes.includes(envelope.payload.type)) {
    throw new WorkerError(
      'VALIDATION_ERROR',
      `Invalid field value: payload.type - '${envelope.payload.type}' is not supported by ${envelope.operation} ` +
        `(supported: ${handler.payloadTypes.join(', ')})`,
      { phase: 'validation' },
    );
  }
  return { ...validated, handler };
}

/** Runs the handler's own payload check; a validate() that crashes still refuses the job as invalid. */
export function validatePayload({ handler, envelope }: Intake): void {
  try {
    handler.validate(envelope.payload.data, envelope);
  } catch (err) {
    if (isCodedError(err)) throw asWorkerError(err);
    throw new WorkerError('VALIDATION_ERROR', `Invalid payload for ${envelope.operation}: ${String(err)}`, {
      phase: 'validation',
    });
  }
}
