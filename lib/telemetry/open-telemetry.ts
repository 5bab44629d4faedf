/**
 * `@opentelemetry/api` is an optional peer dependency: loaded on first use, once, with `require`; when it
 * is not installed, telemetry is off and costs nothing (every hook is one `undefined` check).
 * Only types are imported statically, and none of them reach the package's public declarations, so
 * TypeScript users without it installed compile as before.
 */
import type * as OpenTelemetryApi from '@opentelemetry/api';

export type OpenTelemetry = typeof OpenTelemetryApi;

const PACKAGE = '@opentelemetry/api';
let loaded: OpenTelemetry | null | undefined;

/** The OpenTelemetry API, or undefined when it cannot be resolved. Resolves at most once per process. */
export function openTelemetry(): OpenTelemetry | undefined {
  if (loaded === undefined) {
    try {
      loaded = require(PACKAGE) as OpenTelemetry;
    } catch (error) {
      // Absent: off. Anything else (a broken install) is an error worth seeing at start-up.
      if (!isNotFound(error)) throw error;
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

function isNotFound(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${PACKAGE}'`);
}

/** Instrumentation scope of every meter and tracer of the library. */
export const INSTRUMENTATION_SCOPE = 'nestjs-zookeeper-lock';

/** The package version, for the instrumentation scope (undefined if package.json cannot be read). */
export function packageVersion(): string | undefined {
  try {
    // From lib/telemetry (tests) and dist/telemetry (the package) alike.
    return (require('../../package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}
