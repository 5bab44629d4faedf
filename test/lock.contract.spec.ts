import { LockEvent, LockService } from 'nestjs-zookeeper-lock';
import { InMemoryLockBackend, InMemoryLockStore } from 'nestjs-zookeeper-lock/testing';
import { describeLockContract } from './contract/lock-contract';
import { lockKey } from '../lib/lock/lock-id';
import { newLockService } from './support/locks';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForChildren, waitForState } from './support/zookeeper';

describeLockContract('ZooKeeper', async () => {
  const namespace = uniqueNamespace('contract');
  const eventsOfA: LockEvent[] = [];
  const zkA = await newService({ namespace, onLockEvent: (event) => eventsOfA.push(event), shutdownTimeout: 1_000 });
  const zkB = await newService({ namespace });
  return {
    a: newLockService(zkA),
    b: newLockService(zkB),
    eventsOfA,
    async expireA() {
      await expireSession(sharedConnectString(), zkA);
      await waitForState(zkA, 'connected');
    },
    closeA: () => zkA.close(),
    async queued(id, count) {
      await waitForChildren(zkA, `${namespace}/default/${id}%q`, count);
    },
    dispose: cleanup,
  };
});

describeLockContract('in-memory (ZookeeperLockTestingModule)', async () => {
  const store = new InMemoryLockStore();
  const backendA = new InMemoryLockBackend(store);
  const eventsOfA: LockEvent[] = [];
  return {
    a: new LockService(backendA, { onLockEvent: (event) => eventsOfA.push(event), shutdownTimeout: 1_000 }),
    b: new LockService(new InMemoryLockBackend(store)),
    eventsOfA,
    async expireA() {
      backendA.expireSession();
    },
    async closeA() {}, // the backend's shutdown (called by a.beforeApplicationShutdown) ended its session
    async queued(id, count) {
      const key = lockKey('default', id);
      for (let polls = 0; (store.queues.get(key)?.length ?? 0) < count; polls++) {
        if (polls > 1000) throw new Error(`${count} waiters for ${id} not queued`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    async dispose() {},
  };
});
