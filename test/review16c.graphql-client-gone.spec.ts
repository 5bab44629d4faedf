/**
 * Review 16c: a GraphQL client over HTTP that disconnects while its resolver waits for a lock is not
 * noticed. onClientGone (lib/interceptor/client-gone.ts) watches the connection for 'http' and 'rpc'
 * contexts only; a resolver's context type is 'graphql', so it returns `noop`, although the GraphQL
 * context carries the HTTP request (`context.req`: @nestjs/apollo always puts it there) and Nest does not
 * unsubscribe from a resolver's result. So the gone caller keeps its waiter node for its whole `wait`,
 * takes the lock when its turn comes and runs the resolver for nobody.
 * README (Locks › A caller that leaves takes nothing): "If the caller goes away while its request waits
 * (... a plain HTTP client disconnects ...), the wait is cancelled, its queue node is removed, ... and
 * the handler never runs"; only broker transports are named as exceptions. Security: "a client that
 * disconnects while waiting takes nothing and its handler never runs, over HTTP, SSE, WebSocket and TCP".
 */
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Args, Field, GraphQLModule, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import * as http from 'node:http';
import { LockService, WithLock, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { cleanup, newService, sharedConnectString, uniqueNamespace, waitForChildren, waitForNoChildren } from './support/zookeeper';

@ObjectType()
class Order {
  @Field()
  id!: string;
  @Field()
  state!: string;
}

const runs = { ship: 0 };

@Resolver(() => Order)
class OrdersResolver {
  @Query(() => Order)
  order(@Args('id') id: string): Order {
    return { id, state: 'open' };
  }

  @Mutation(() => Order)
  @WithLock('args.id', { scope: 'gql-orders', wait: 30_000 })
  ship(@Args('id') id: string): Order {
    runs.ship += 1;
    return { id, state: 'shipped' };
  }
}

/** The resolver waits 30 s for its lock: a waiter that leaves only when that runs out was not cancelled. */
const CANCELLED_WITHIN_MS = 10_000;

describe('review16c: a GraphQL client that disconnects while its resolver waits for a lock', () => {
  let app: INestApplication;
  let url: string;
  let observer: ZookeeperService;
  let other: LockService;
  const namespace = uniqueNamespace('r16c-gql');

  beforeAll(async () => {
    @Module({
      imports: [
        ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace }),
        GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }),
      ],
      providers: [OrdersResolver],
    })
    class AppModule {}
    app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
    observer = await newService({ namespace });
    other = newLockService(observer);
  });
  afterAll(async () => {
    await app.close();
    await cleanup();
  });

  it('cancels the wait (the waiter node goes) and never runs the resolver', async () => {
    const id = 'o-1';
    const queue = `${namespace}/gql-orders/${id}%q`;
    const holder = await other.acquire(id, { scope: 'gql-orders' });
    const before = runs.ship;
    const client = http.request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    client.on('error', () => undefined); // destroyed on purpose
    client.end(JSON.stringify({ query: `mutation { ship(id: "${id}") { id state } }` }));
    await waitForChildren(observer, queue, 1); // queued
    client.destroy();

    const started = Date.now();
    const cancelled = await waitForNoChildren(observer, queue, CANCELLED_WITHIN_MS).then(
      () => true,
      () => false,
    );
    console.log(`waiter node ${cancelled ? `gone after ${Date.now() - started} ms` : `still queued ${CANCELLED_WITHIN_MS} ms after the client left`}`);
    await holder.release();
    // Take the lock once more: a waiter still queued gets it first and runs the resolver before we do.
    await (await other.acquire(id, { scope: 'gql-orders', wait: 30_000 })).release();
    console.log(`resolver runs for the gone client: ${runs.ship - before}`);
    expect({ cancelled, runs: runs.ship - before }).toEqual({ cancelled: true, runs: 0 });
  }, 60_000);
});
