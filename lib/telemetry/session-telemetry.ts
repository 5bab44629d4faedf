import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ObservableCallback, ObservableGauge } from '@opentelemetry/api';
import { ZookeeperService, ZookeeperState } from '../zookeeper/zookeeper.service';
import { INSTRUMENTATION_SCOPE, openTelemetry, packageVersion } from './open-telemetry';
import { ATTRIBUTE, METRIC } from './telemetry-names';

const STATES: readonly ZookeeperState[] = ['connecting', 'connected', 'suspended', 'expired', 'lost', 'unavailable', 'auth-failed', 'closed'];

/**
 * The session state as an observable gauge (`zookeeper.lock.session.state`): one series per state, 1 for
 * the current one and 0 for the others (so a dashboard can plot "connected" or alert on anything else).
 * Read at each collection, so it costs nothing between them. Nothing at all without @opentelemetry/api.
 */
@Injectable()
export class SessionTelemetry implements OnApplicationShutdown {
  private readonly gauge?: ObservableGauge;
  private readonly callback?: ObservableCallback;

  constructor(zookeeper: ZookeeperService) {
    const api = openTelemetry();
    if (!api) return;
    this.gauge = api.metrics.getMeter(INSTRUMENTATION_SCOPE, packageVersion()).createObservableGauge(METRIC.sessionState, {
      description: 'ZooKeeper session state of this process: 1 for the current state, 0 for the others',
      unit: '1',
    });
    this.callback = (result) => {
      const current = zookeeper.state;
      for (const state of STATES) result.observe(state === current ? 1 : 0, { [ATTRIBUTE.sessionState]: state });
    };
    this.gauge.addCallback(this.callback);
  }

  onApplicationShutdown(): void {
    if (this.callback) this.gauge?.removeCallback(this.callback);
  }
}
