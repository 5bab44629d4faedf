import { Injectable, Logger } from '@nestjs/common';
import { skip } from 'rxjs';
import { notifyListener } from '../lock/lock-events';
import { ZookeeperService } from '../zookeeper/zookeeper.service';

/**
 * Forwards every session state change of ZookeeperService to the `onLockEvent` option as a `session`
 * event. It lives here, in the module that wires the layers together, so that the connection layer never
 * reaches up into the lock layer for its event type or its listener guard.
 */
@Injectable()
export class SessionEventsForwarder {
  private readonly logger = new Logger('ZookeeperLock');

  constructor(zookeeper: ZookeeperService) {
    const listener = zookeeper.options.onLockEvent;
    if (!listener) return;
    // state$ replays the current state on subscription: skip it, report changes only (as before). The
    // subscription ends when the service closes (state$ completes after `closed`).
    zookeeper.state$
      .pipe(skip(1))
      .subscribe((event) => notifyListener(listener, { type: 'session', state: event.state, sessionId: event.sessionId }, this.logger));
  }
}
