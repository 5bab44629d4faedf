/**
 * Session state events reach `onLockEvent` through the module's SessionEventsForwarder, and the connection
 * layer (lib/zookeeper) does not import the lock layer (lib/lock) to do it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { LockEvent, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { sharedConnectString, uniqueNamespace } from './support/zookeeper';

describe('session events', () => {
  it('lib/zookeeper imports nothing from lib/lock (the connection layer does not reach up)', () => {
    const dir = join(__dirname, '..', 'lib', 'zookeeper');
    const offenders = readdirSync(dir)
      .filter((file) => file.endsWith('.ts'))
      .filter((file) => /from '\.\.\/lock\//.test(readFileSync(join(dir, file), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('forwards every state change (not the initial replay) to onLockEvent, and survives a listener that throws', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const events: LockEvent[] = [];
    @Module({
      imports: [
        ZookeeperLockModule.forRoot({
          connectionString: sharedConnectString(),
          namespace: uniqueNamespace('events'),
          sessionTimeout: 4_000,
          onLockEvent: (event) => {
            events.push(event);
            if (event.type === 'session') throw new Error('metrics backend down');
          },
        }),
      ],
    })
    class EventsAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [EventsAppModule] }).compile();
    const app = moduleRef.createNestApplication();
    try {
      await app.init();
      const zk = app.get(ZookeeperService);
      const sessionId = zk.sessionId;
      expect(zk.state).toBe('connected');
      await app.close();
      expect(events).toEqual([
        { type: 'session', state: 'connected', sessionId },
        { type: 'session', state: 'closed', sessionId },
      ]);
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('onLockEvent threw on a session event: metrics backend down'));
    } finally {
      await app.close();
      logged.mockRestore();
    }
  });
});
