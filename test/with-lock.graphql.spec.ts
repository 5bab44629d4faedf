/**
 * @WithLock on GraphQL resolvers, with the real Apollo driver (@nestjs/graphql, @nestjs/apollo) and a real
 * ZooKeeper: `idFrom` reads the resolver's args (`args.id`), and a failure to lock is a GraphQL error
 * whose `extensions.code` is the LockError's code, with a generic message. The library itself imports
 * neither @nestjs/graphql nor graphql.
 */
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { INestApplication, LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Args, Field, GraphQLModule, InputType, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import request from 'supertest';
import { LockConflictError, WithLock, ZookeeperLockModule, ZookeeperLockModuleOptions, ZookeeperService } from 'nestjs-zookeeper-lock';
import { ClientFaults } from './support/client-faults';
import { Gates } from './support/locked-app';
import { cleanup, sharedConnectString, uniqueNamespace } from './support/zookeeper';

const NO_AUTH = -102;

@ObjectType()
class Order {
  @Field()
  id!: string;
  @Field()
  state!: string;
}

@InputType()
class TransferInput {
  @Field()
  from!: string;
  @Field()
  to!: string;
}

/** Keeps the app's log lines (to show that a conflict is not logged as an unexpected error). */
class Lines implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];
  log() {}
  debug() {}
  verbose() {}
  warn(message: unknown) {
    this.lines.push({ level: 'warn', message: String(message) });
  }
  error(message: unknown) {
    this.lines.push({ level: 'error', message: String(message instanceof Error ? message.message : message) });
  }
}

function buildResolver(gates: Gates) {
  @Resolver(() => Order)
  class OrdersResolver {
    @Query(() => Order)
    order(@Args('id') id: string): Order {
      return { id, state: 'open' };
    }

    @Mutation(() => Order)
    @WithLock('args.id', { scope: 'gql-orders' })
    async ship(@Args('id') id: string): Promise<Order> {
      await gates.pass(`ship:${id}`);
      return { id, state: 'shipped' };
    }

    @Mutation(() => Boolean)
    @WithLock((source: { args: { input: TransferInput } }) => [source.args.input.from, source.args.input.to], { scope: 'gql-accounts' })
    async transfer(@Args('input') input: TransferInput): Promise<boolean> {
      await gates.pass(`transfer:${input.from}`);
      return true;
    }
  }
  return OrdersResolver;
}

interface App {
  app: INestApplication;
  url: string;
  gates: Gates;
  logs: Lines;
}

async function start(options: Partial<ZookeeperLockModuleOptions>): Promise<App> {
  const gates = new Gates();
  const logs = new Lines();
  @Module({
    imports: [
      ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), isGlobal: true, ...options }),
      GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }),
    ],
    providers: [buildResolver(gates)],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: logs });
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl(), gates, logs };
}

interface GraphQLReply {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions: Record<string, unknown> }>;
}

async function graphql(url: string, query: string): Promise<{ status: number; body: GraphQLReply; text: string }> {
  const response = await request(url).post('/graphql').set('content-type', 'application/json').send({ query });
  return { status: response.status, body: response.body, text: response.text };
}

/** Holds `id` through the ship mutation while `check` runs. */
async function whileShipping<T>(target: App, id: string, check: () => Promise<T>): Promise<T> {
  const gate = target.gates.close(`ship:${id}`);
  const first = graphql(target.url, `mutation { ship(id: "${id}") { id state } }`);
  // Fails at once, rather than hanging, if the first call never reaches the handler.
  await Promise.race([gate.entered, first.then((r) => Promise.reject(new Error(`never entered the handler: ${r.text}`)))]);
  try {
    return await check();
  } finally {
    gate.open();
    expect((await first).body).toEqual({ data: { ship: { id, state: 'shipped' } } });
  }
}

describe('@WithLock on GraphQL resolvers (Apollo)', () => {
  afterAll(() => cleanup());

  describe('by default', () => {
    let target: App;
    const namespace = uniqueNamespace('gql');
    beforeAll(async () => {
      target = await start({ namespace });
    });
    afterAll(() => target.app.close());

    it('locks on args.id and answers a conflict with extensions.code LOCK_CONFLICT and a generic message', async () => {
      const errorsBefore = target.logs.lines.filter((line) => line.level === 'error').length;
      const conflict = await whileShipping(target, 'g-1', () => graphql(target.url, 'mutation { ship(id: "g-1") { id state } }'));
      expect(conflict.status).toBe(200); // GraphQL: the error is in the body
      expect(conflict.body.data).toBeNull();
      expect(conflict.body.errors).toHaveLength(1);
      const [error] = conflict.body.errors!;
      expect(error.message).toBe('The resource is locked by another request; try again later');
      expect(error.path).toEqual(['ship']);
      expect(error.extensions).toMatchObject({ code: 'LOCK_CONFLICT', statusCode: 409 });
      expect(error.extensions.ids).toBeUndefined();
      // Nothing of the lock in the reply, stack trace included (Apollo adds one outside production).
      for (const secret of ['g-1', namespace, 'gql-orders', 'LockConflictError']) expect(conflict.text).not.toContain(secret);
      // An expected answer, not an unexpected error: Nest does not log it as one.
      expect(target.logs.lines.filter((line) => line.level === 'error')).toHaveLength(errorsBefore);
    });

    it('lets another id, and the same id once free, through', async () => {
      await whileShipping(target, 'g-2', async () => {
        expect((await graphql(target.url, 'mutation { ship(id: "g-3") { id state } }')).body).toEqual({ data: { ship: { id: 'g-3', state: 'shipped' } } });
      });
      expect((await graphql(target.url, 'mutation { ship(id: "g-2") { state } }')).body).toEqual({ data: { ship: { state: 'shipped' } } });
    });

    it('reads ids from nested args through an idFrom function (all or none)', async () => {
      const gate = target.gates.close('transfer:a-1');
      const first = graphql(target.url, 'mutation { transfer(input: { from: "a-1", to: "a-2" }) }');
      await Promise.race([gate.entered, first.then((r) => Promise.reject(new Error(`never entered the handler: ${r.text}`)))]);
      const conflict = await graphql(target.url, 'mutation { transfer(input: { from: "a-2", to: "a-3" }) }');
      gate.open();
      expect((await first).body).toEqual({ data: { transfer: true } });
      expect(conflict.body.errors?.[0].extensions.code).toBe('LOCK_CONFLICT');
    });

    it('answers an id that cannot name a lock with LOCK_ID_INVALID and the reason', async () => {
      const invalid = await graphql(target.url, 'mutation { ship(id: "") { id } }');
      expect(invalid.body.errors?.[0]).toMatchObject({
        message: 'Lock id must not be empty',
        extensions: { code: 'LOCK_ID_INVALID', statusCode: 400 },
      });
    });

    it('answers LOCK_UNAVAILABLE when ZooKeeper refuses, without the path', async () => {
      const faults = new ClientFaults(target.app.get(ZookeeperService));
      try {
        faults.answerWith('create', (path) => path.includes('/gql-orders/g-4'), NO_AUTH);
        const refused = await graphql(target.url, 'mutation { ship(id: "g-4") { id } }');
        expect(refused.body.errors?.[0]).toMatchObject({
          message: 'Locking is unavailable right now; try again later',
          extensions: { code: 'LOCK_UNAVAILABLE', statusCode: 503 },
        });
        for (const secret of ['g-4', namespace, 'NO_AUTH']) expect(refused.text).not.toContain(secret);
        // The details are in the log.
        expect(target.logs.lines).toContainEqual({ level: 'warn', message: expect.stringMatching(/answered 503 LOCK_UNAVAILABLE: .*gql-orders\/g-4.*NO_AUTH/) });
      } finally {
        faults.restore();
      }
    });
  });

  describe('with exposeLockIds and errorFactory', () => {
    let target: App;
    beforeAll(async () => {
      target = await start({
        namespace: uniqueNamespace('gql-custom'),
        exposeLockIds: true,
        errorFactory: (error, context) => {
          const args = context.getArgByIndex<{ id?: string }>(1);
          if (error instanceof LockConflictError && args?.id?.startsWith('custom-')) {
            return new GraphQLError('Busy, come back later', { extensions: { code: 'BUSY' } });
          }
          return undefined;
        },
      });
    });
    afterAll(() => target.app.close());

    it('names the ids in extensions.ids', async () => {
      const conflict = await whileShipping(target, 'g-5', () => graphql(target.url, 'mutation { ship(id: "g-5") { id } }'));
      expect(conflict.body.errors?.[0].extensions).toMatchObject({ code: 'LOCK_CONFLICT', ids: ['g-5'] });
    });

    it('answers with the error the factory returns', async () => {
      const conflict = await whileShipping(target, 'custom-1', () => graphql(target.url, 'mutation { ship(id: "custom-1") { id } }'));
      expect(conflict.body.errors?.[0]).toMatchObject({ message: 'Busy, come back later', extensions: { code: 'BUSY' } });
    });
  });
});
