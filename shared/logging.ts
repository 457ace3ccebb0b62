/**
 * The one pino root. Components take `log.child({ component, tenant?, slot? })`; messages
 * are constant strings and values go in fields. Tenant row data is never logged above
 * `debug`.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/** The logger type every component receives. */
export type Logger = PinoLogger;

/** Options of the root logger. */
export interface LoggerOptions {
  level: string;
  /** Name of the process role, e.g. `capture` or `cli`. */
  name?: string;
}

/** Creates the root logger (JSON lines on stdout unless a destination is given). */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  return pino(
    {
      level: options.level,
      base: options.name ? { service: options.name } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** A logger that discards everything, for unit tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
