import type { Attributes, Counter, Histogram, Span, Tracer } from '@opentelemetry/api';
import { LockConflictError, LockUnavailableError } from '../lock/lock.errors';
import { ATTRIBUTE, DURATION_BUCKETS, METRIC, SPAN_ACQUIRE } from './telemetry-names';

// The attribute keys below are ATTRIBUTE's values, written out (see startAcquire).
import { INSTRUMENTATION_SCOPE, OpenTelemetry, openTelemetry, packageVersion } from './open-telemetry';

type Outcome = 'acquired' | 'conflict' | 'unavailable' | 'aborted' | 'error';

/** One acquire in flight: its span and the attributes its metrics carry. */
export interface AcquireObservation {
  acquired(waitedMs: number): void;
  failed(error: unknown, waitedMs: number, queued: boolean, signal?: AbortSignal): void;
}

/**
 * LockService's OpenTelemetry instruments: counts of acquired, conflicting, unavailable and lost locks,
 * histograms of wait and hold time, and a span around each acquire. Created only when the API is
 * installed (see open-telemetry.ts); with the API but no SDK registered every call is a no-op of the API.
 * The meter is taken when LockService is created: register the SDK before creating the application.
 */
export class LockTelemetry {
  private readonly acquiredCount: Counter;
  private readonly conflictCount: Counter;
  private readonly unavailableCount: Counter;
  private readonly lostCount: Counter;
  private readonly waitDuration: Histogram;
  private readonly holdDuration: Histogram;
  private readonly tracer: Tracer;

  /** Undefined when @opentelemetry/api is not installed. */
  static create(): LockTelemetry | undefined {
    const api = openTelemetry();
    return api && new LockTelemetry(api);
  }

  private constructor(private readonly api: OpenTelemetry) {
    const version = packageVersion();
    const meter = api.metrics.getMeter(INSTRUMENTATION_SCOPE, version);
    this.acquiredCount = meter.createCounter(METRIC.acquired, { description: 'Locks acquired', unit: '{lock}' });
    this.conflictCount = meter.createCounter(METRIC.conflicts, {
      description: 'Acquires refused because the lock was held (at once, or still after waiting), or its queue was full',
      unit: '{lock}',
    });
    this.unavailableCount = meter.createCounter(METRIC.unavailable, {
      description: 'Acquires that failed because ZooKeeper could not be reached or refused access, or the application was shutting down',
      unit: '{lock}',
    });
    this.lostCount = meter.createCounter(METRIC.lost, { description: 'Held locks lost (session ended, maxHold, node taken away)', unit: '{lock}' });
    const advice = { explicitBucketBoundaries: DURATION_BUCKETS };
    this.waitDuration = meter.createHistogram(METRIC.waitDuration, { description: 'Time an acquire took, queueing included, by outcome', unit: 's', advice });
    this.holdDuration = meter.createHistogram(METRIC.holdDuration, { description: 'Time a lock was held, until released or lost', unit: 's', advice });
    this.tracer = api.trace.getTracer(INSTRUMENTATION_SCOPE, version);
  }

  /**
   * Starts the span of an acquire that goes to the backend (a nested call that only joins a held lock has
   * none). Attribute objects are written out as literals, never spread: on the lock's path a spread costs
   * microseconds, a literal nanoseconds (bench/telemetry-overhead.ts).
   */
  startAcquire(scope: string, queuedMode: boolean, idCount: number): AcquireObservation {
    const mode = queuedMode ? 'queued' : 'fail-fast';
    const attributes: Attributes = { 'zookeeper.lock.scope': scope, 'zookeeper.lock.mode': mode };
    const span = this.tracer.startSpan(SPAN_ACQUIRE, {
      kind: this.api.SpanKind.INTERNAL,
      attributes: { 'zookeeper.lock.scope': scope, 'zookeeper.lock.mode': mode, 'zookeeper.lock.id_count': idCount },
    });
    return {
      acquired: (waitedMs) => {
        this.acquiredCount.add(1, attributes);
        this.waitDuration.record(waitedMs / 1000, { 'zookeeper.lock.scope': scope, 'zookeeper.lock.mode': mode, 'zookeeper.lock.outcome': 'acquired' });
        this.endSpan(span, 'acquired', queuedMode);
      },
      failed: (error, waitedMs, queued, signal) => {
        const outcome = outcomeOf(error, signal);
        if (outcome === 'conflict') this.conflictCount.add(1, attributes);
        else if (outcome === 'unavailable') this.unavailableCount.add(1, attributes);
        this.waitDuration.record(waitedMs / 1000, { 'zookeeper.lock.scope': scope, 'zookeeper.lock.mode': mode, 'zookeeper.lock.outcome': outcome });
        this.endSpan(span, outcome, queued, outcome === 'unavailable' || outcome === 'error' ? error : undefined);
      },
    };
  }

  /** A hold ended: released by its holder, or lost. */
  holdEnded(scope: string, heldMs: number, end: 'released' | 'lost'): void {
    if (end === 'lost') this.lostCount.add(1, { 'zookeeper.lock.scope': scope });
    this.holdDuration.record(heldMs / 1000, { 'zookeeper.lock.scope': scope, 'zookeeper.lock.end': end });
  }

  private endSpan(span: Span, outcome: Outcome, queued: boolean, error?: unknown): void {
    if (span.isRecording()) {
      span.setAttribute(ATTRIBUTE.outcome, outcome);
      span.setAttribute(ATTRIBUTE.queued, queued);
      // A conflict or a caller's abort is an expected answer, not a failure of the span (as a 4xx is not).
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: error instanceof Error ? error.name : undefined });
      }
    }
    span.end();
  }
}

function outcomeOf(error: unknown, signal: AbortSignal | undefined): Outcome {
  if (error instanceof LockConflictError) return 'conflict';
  if (error instanceof LockUnavailableError) return 'unavailable';
  if (signal?.aborted && error === signal.reason) return 'aborted';
  return 'error';
}
