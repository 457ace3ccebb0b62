/**
 * The deadline of a producer operation. The clients' promises can stay pending for a long
 * time when a broker goes away (librdkafka retries internally until its own timeouts; kafkajs
 * sometimes never settles); the caller then replaces the producer, which fences this one,
 * so giving up on it loses nothing.
 */
import { BacktrackError } from '../errors.js';

/** A producer operation's deadline when none is configured (ms). */
export const DEFAULT_OPERATION_TIMEOUT_MS = 60_000;

/** `ms` as an operator reads it: "20 ms", "60 s". */
function duration(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

/** Fails `operation` as retriable KAFKA_UNAVAILABLE when it has not settled within `ms`. */
export function withDeadline<T>(what: string, ms: number, operation: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(
        new BacktrackError(
          'KAFKA_UNAVAILABLE',
          `Kafka did not answer ${what} within ${duration(ms)}`,
          {
            retriable: true,
            details: { timeoutMs: ms },
          },
        ),
      );
    }, ms);
    timer.unref();
  });
  return Promise.race([operation, expired]).finally(() => clearTimeout(timer));
}
