/**
 * `maxWaiters`: waiting acquires are bounded per id (in this process, and in the id's queue in ZooKeeper
 * across instances) and per process; beyond them a caller is refused at once (409, LOCK_QUEUE_FULL) and
 * leaves no node behind. Real ZooKeeper, several sessions, real HTTP.
 */
import { Controller, INestApplication, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import request from 'supertest';
import { LockConflictError, LockQueueFullError, LockService, WithLock, ZookeeperLockModule } from 'nestjs-zookeeper-lock';
import { resolveOptions } from '../lib/module/zookeeper-lock-options';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { newLockService } from './support/locks';
import { cleanup, newService, sharedConnectString, uniqueNamespace, waitForChildren } from './support/zookeeper';

describe('maxWaiters', () => {
  afterAll(cleanup);

  it('refuses one waiter more than perId in this process at once, sending nothing to ZooKeeper', async () => {
    const namespace = uniqueNamespace('waiters');
    const holder = newLockService(await newService({ namespace }));
    const zk = await newService({ namespace, maxWaiters: { perId: 3 } });
    const waiters = newLockService(zk);
    const held = await holder.acquire('x');
    const cancel = new AbortController();
    const queued = Array.from({ length: 3 }, () => waiters.acquire('x', { wait: 60_000, signal: cancel.signal }).catch((e) => e));
    await waitForChildren(zk, `${namespace}/default/x%q`, 3);
    const refused = await waiters.acquire('x', { wait: 60_000 }).catch((e) => e);
    expect(refused).toBeInstanceOf(LockQueueFullError);
    expect(refused).toBeInstanceOf(LockConflictError); // answered 409 like any conflict
    expect(refused).toMatchObject({ code: 'LOCK_QUEUE_FULL', ids: ['x'], limit: { perId: 3 } });
    expect(await zk.getChildren(`${namespace}/default/x%q`)).toHaveLength(3);
    expect(waiters.waitingCount).toBe(3);
    // Another id is not affected, and fail-fast callers never wait, so they are never counted.
    await waiters.withLock('y', () => undefined, { wait: 1000 });
    await expect(waiters.acquire('x')).rejects.toThrow(/is held by another owner/);
    cancel.abort(new Error('test over'));
    await Promise.all(queued);
    expect(waiters.waitingCount).toBe(0);
    await held.release();
    await waiters.withLock('x', () => undefined, { wait: 1000 }); // places are given back
  });

  it('refuses a waiter when more than perId callers of other instances are ahead in the queue, and removes its node', async () => {
    const namespace = uniqueNamespace('waiters');
    const holder = newLockService(await newService({ namespace }));
    const othersZk = await newService({ namespace, maxWaiters: { perId: Infinity } });
    const others = newLockService(othersZk);
    const strict = newLockService(await newService({ namespace, maxWaiters: { perId: 2 } }));
    const held = await holder.acquire('x');
    const cancel = new AbortController();
    const queued = Array.from({ length: 3 }, () => others.acquire('x', { wait: 60_000, signal: cancel.signal }).catch((e) => e));
    const queue = `${namespace}/default/x%q`;
    await waitForChildren(othersZk, queue, 3);
    await expect(strict.acquire('x', { wait: 60_000 })).rejects.toMatchObject({ code: 'LOCK_QUEUE_FULL', limit: { perId: 2 } });
    expect(await othersZk.getChildren(queue)).toHaveLength(3); // its own waiter node is gone again
    // With fewer ahead, it queues as usual.
    cancel.abort(new Error('test over'));
    await Promise.all(queued);
    const waiting = strict.acquire('x', { wait: 60_000 });
    await waitForChildren(othersZk, queue, 1);
    await held.release();
    await (await waiting).release();
  });

  it('applies to limited locks (`limit` with `wait`) as to exclusive ones: perId in this process, sending nothing', async () => {
    const namespace = uniqueNamespace('waiters');
    const holder = newLockService(await newService({ namespace }));
    const zk = await newService({ namespace, maxWaiters: { perId: 2 } });
    const waiters = newLockService(zk);
    const held = await holder.acquire('x', { limit: 1 });
    const cancel = new AbortController();
    const queued = Array.from({ length: 2 }, () => waiters.acquire('x', { limit: 1, wait: 60_000, signal: cancel.signal }).catch((e) => e));
    const slots = `${namespace}/default/x%l`;
    await waitForChildren(zk, slots, 3); // the holder and two waiters
    const refused = await waiters.acquire('x', { limit: 1, wait: 60_000 }).catch((e) => e);
    expect(refused).toBeInstanceOf(LockQueueFullError);
    expect(refused).toMatchObject({ code: 'LOCK_QUEUE_FULL', ids: ['x'], limit: { perId: 2 } });
    expect(await zk.getChildren(slots)).toHaveLength(3); // nothing was sent for it
    expect(waiters.waitingCount).toBe(2);
    cancel.abort(new Error('test over'));
    await Promise.all(queued);
    await held.release();
    await waiters.withLock('x', () => undefined, { limit: 1, wait: 1000 }); // places are given back
  });

  it('applies to limited locks across instances: refused when perId callers of others already wait ahead, its node removed', async () => {
    const namespace = uniqueNamespace('waiters');
    const holder = newLockService(await newService({ namespace }));
    const othersZk = await newService({ namespace, maxWaiters: { perId: Infinity } });
    const others = newLockService(othersZk);
    const strict = newLockService(await newService({ namespace, maxWaiters: { perId: 2 } }));
    const held = [await holder.acquire('x', { limit: 2 }), await holder.acquire('x', { limit: 2 })]; // both slots
    const cancel = new AbortController();
    const queued = Array.from({ length: 2 }, () => others.acquire('x', { limit: 2, wait: 60_000, signal: cancel.signal }).catch((e) => e));
    const slots = `${namespace}/default/x%l`;
    await waitForChildren(othersZk, slots, 4);
    // Two wait ahead of it (the holders' places are the limit's, not a queue): one more than it may have.
    await expect(strict.acquire('x', { limit: 2, wait: 60_000 })).rejects.toMatchObject({ code: 'LOCK_QUEUE_FULL', limit: { perId: 2 } });
    expect(await othersZk.getChildren(slots)).toHaveLength(4); // its own node is gone again
    // With one waiting ahead, it queues as usual.
    cancel.abort(new Error('test over'));
    await Promise.all(queued);
    const one = others.acquire('x', { limit: 2, wait: 60_000 });
    await waitForChildren(othersZk, slots, 3);
    const waiting = strict.acquire('x', { limit: 2, wait: 60_000 });
    await waitForChildren(othersZk, slots, 4);
    await Promise.all(held.map((h) => h.release()));
    await Promise.all([(await one).release(), (await waiting).release()]);
  });

  it('refuses a waiter beyond perProcess, whatever the ids', async () => {
    const namespace = uniqueNamespace('waiters');
    const holder = newLockService(await newService({ namespace }));
    const waiters = newLockService(await newService({ namespace, maxWaiters: { perProcess: 2 } }));
    const held = await holder.acquire(['a', 'b', 'c']);
    const cancel = new AbortController();
    const queued = ['a', 'b'].map((id) => waiters.acquire(id, { wait: 60_000, signal: cancel.signal }).catch((e) => e));
    await expect(waiters.acquire('c', { wait: 60_000 })).rejects.toThrow(/maxWaiters.perProcess is 2/);
    cancel.abort(new Error('test over'));
    await Promise.all(queued);
    await held.release();
  });

  it('refuses a maxWaiters option that cannot work, at start-up', async () => {
    expect(() => resolveOptions({ connectionString: 'localhost:2181', maxWaiters: { perId: 0 } })).toThrow(
      /option `maxWaiters` perId must be a whole number >= 1/,
    );
    expect(() => resolveOptions({ connectionString: 'localhost:2181', maxWaiters: { total: 5 } as never })).toThrow(/unknown key "total"/);
    const zk = await newService({ namespace: uniqueNamespace('waiters') });
    expect(() => new LockService(new ZookeeperLockBackend(zk), { maxWaiters: { perProcess: -1 } })).toThrow(/`maxWaiters` perProcess/);
  });

  describe('over HTTP', () => {
    let app: INestApplication;
    let url: string;
    const gate: { open?: () => void; entered?: Promise<void>; enter?: () => void } = {};

    @Controller('q')
    class QueueController {
      @Post(':id')
      @WithLock('params.id', { wait: 10_000 })
      async take(@Param('id') id: string) {
        gate.enter?.();
        if (gate.open === undefined) await new Promise<void>((resolve) => (gate.open = resolve));
        return { id };
      }
    }

    beforeAll(async () => {
      @Module({
        imports: [
          ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace: uniqueNamespace('waiters-http'), maxWaiters: { perId: 1 } }),
        ],
        controllers: [QueueController],
      })
      class AppModule {}
      app = await NestFactory.create(AppModule, { logger: false });
      await app.listen(0, '127.0.0.1');
      url = await app.getUrl();
    });
    afterAll(async () => {
      gate.open?.();
      await app.close();
    });

    it('answers 409 LOCK_QUEUE_FULL with Retry-After to the caller beyond the bound; the others are served', async () => {
      gate.entered = new Promise<void>((resolve) => (gate.enter = resolve));
      const holding = request(url).post('/q/k').then((r) => r);
      await gate.entered;
      const locks = app.get(LockService);
      const waiting = request(url).post('/q/k').then((r) => r);
      while (locks.waitingCount < 1) await new Promise((resolve) => setImmediate(resolve));
      const refused = await request(url).post('/q/k');
      expect(refused.status).toBe(409);
      expect(refused.headers['retry-after']).toBe('1');
      // Generic: the bound (configuration) stays out of the body.
      expect(refused.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'LOCK_QUEUE_FULL',
        message: 'Too many requests are waiting for this resource; try again later',
      });
      expect(refused.text).not.toContain('maxWaiters');
      gate.open!();
      expect([(await holding).status, (await waiting).status]).toEqual([201, 201]);
    });
  });
});
