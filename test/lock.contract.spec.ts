import { LockEvent, LockService } from 'nestjs-zookeeper-lock';
import { InMemoryLockBackend, InMemoryLockStore } from 'nestjs-zookeeper-lock/testing';
import { ContractWorld, describeLockContract } from './contract/lock-contract';
import { describeFamilyContract } from './contract/lock-family-contract';
import { lockKey } from '../lib/lock/lock-id';
import { newLockService } from './support/locks';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForChildren, waitForNode, waitForState } from './support/zookeeper';

const zookeeperWorld = async (): Promise<ContractWorld> => {
  const namespace = uniqueNamespace('contract');
  const eventsOfA: LockEvent[] = [];
  const zkA = await newService({ namespace, onLockEvent: (event) => eventsOfA.push(event), shutdownTimeout: 1_000, ownerName: 'instance-a' });
  const zkB = await newService({ namespace, ownerName: 'instance b (zk)' });
  return {
    ownerOfA: 'instance-a',
    ownerOfB: 'instance b (zk)',
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
    async closedToSharers(id) {
      await waitForNode(zkA, `${namespace}/default/${id}/x`);
    },
    dispose: cleanup,
  };
};
describeLockContract('ZooKeeper', zookeeperWorld);
describeFamilyContract('ZooKeeper', zookeeperWorld);

const memoryWorld = async (): Promise<ContractWorld> => {
  const store = new InMemoryLockStore();
  const backendA = new InMemoryLockBackend(store, { ownerName: 'instance-a' });
  const eventsOfA: LockEvent[] = [];
  return {
    ownerOfA: 'instance-a',
    ownerOfB: 'instance b (memory)',
    a: new LockService(backendA, { onLockEvent: (event) => eventsOfA.push(event), shutdownTimeout: 1_000 }),
    b: new LockService(new InMemoryLockBackend(store, { ownerName: 'instance b (memory)' })),
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
    async closedToSharers() {},
    async dispose() {},
  };
};
describeLockContract('in-memory (ZookeeperLockTestingModule)', memoryWorld);
describeFamilyContract('in-memory (ZookeeperLockTestingModule)', memoryWorld);

