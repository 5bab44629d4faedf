/**
 * Review 17b: GraphQL client-gone detection (lib/interceptor/client-gone.ts:27 onResponseGone, via
 * graphqlResponse) adds one `close` listener to the request's HTTP response per @WithLock resolver call
 * (client-gone.ts:51 listen -> emitter.once). Over HTTP one response carried one handler; over GraphQL one
 * response carries every resolver of the operation (query fields resolve in parallel, aliases, lists,
 * Apollo's batched operations). From the 11th locked resolver of one query, the response holds more
 * `close` listeners than its limit and Node prints "MaxListenersExceededWarning: Possible EventEmitter
 * memory leak detected. 11 close listeners added to [ServerResponse]" (the stderr of this spec shows it),
 * for an ordinary, uncontended query. The library keeps the process's warnings quiet otherwise (README
 * `lockLostWarning`: off by default, so as not to print the same news on stderr).
 */
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Args, Field, GraphQLModule, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { WithLock, ZookeeperLockModule } from 'nestjs-zookeeper-lock';
import { cleanup, sharedConnectString, uniqueNamespace } from './support/zookeeper';

@ObjectType()
class Stock {
  @Field()
  id!: string;
  @Field()
  count!: number;
}

/** The most `close` listeners the resolvers saw on their response, and the response's limit. */
const seen = { peak: 0, max: Infinity };

@Resolver(() => Stock)
class StockResolver {
  @Query(() => Stock)
  @WithLock('args.id', { scope: 'gql-stock', wait: 5_000 })
  stock(@Args('id') id: string): Stock {
    return { id, count: 1 };
  }
}

describe('review17b: @WithLock resolvers of one GraphQL request', () => {
  let app: INestApplication;
  let url: string;
  const namespace = uniqueNamespace('r17b-gql');

  beforeAll(async () => {
    @Module({
      imports: [
        ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace }),
        GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }),
      ],
      providers: [StockResolver],
    })
    class AppModule {}
    app = await NestFactory.create(AppModule, { logger: false });
    // Counts the `close` listeners of every response as they are added (the count Node warns about).
    app.use((_req: unknown, res: NodeJS.EventEmitter, next: () => void) => {
      seen.max = res.getMaxListeners();
      res.on('newListener', (event: string) => {
        if (event === 'close') seen.peak = Math.max(seen.peak, res.listenerCount('close') + 1);
      });
      next();
    });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  afterAll(async () => {
    await app.close();
    await cleanup();
  });

  it('a query of 12 locked fields (distinct ids, nobody else holding) stays within the response listener limit', async () => {
    const fields = Array.from({ length: 12 }, (_, i) => `s${i}: stock(id: "item-${i}") { id count }`).join(' ');
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ ${fields} }` }),
    });
    const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    expect(Object.keys(body.data ?? {})).toHaveLength(12);
    console.log(`close listeners on the one response at peak: ${seen.peak} (limit ${seen.max})`);
    expect(seen.peak).toBeLessThanOrEqual(seen.max);
  });
});
