/**
 * Review 18b (mutation testing): "A caller that leaves takes nothing ... a grant that lands anyway is
 * released at once". The specs cover callers that leave while QUEUED (the wait is aborted, nothing is
 * granted). A fail-fast @WithLock (wait: 0) cannot be aborted: when an outer timeout() fires while its
 * create is still in flight, the grant lands after the subscriber left, and only the interceptor's
 * `if (left) release(handle)` gives it back. Without it the lock stays held by nobody until the session
 * ends (here: for ever, the app lives on). The create's reply is held back at the client layer until the
 * client has its 408, then let through.
 */
import { CallHandler, Controller, ExecutionContext, INestApplication, Injectable, Module, NestInterceptor, Param, Post, RequestTimeoutException, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Observable, TimeoutError, catchError, throwError, timeout } from 'rxjs';
import request from 'supertest';
import { WithLock, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { ClientFaults } from './support/client-faults';
import { cleanup, newService, sharedConnectString, uniqueNamespace, waitForGone } from './support/zookeeper';

@Injectable()
class TimeoutInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      timeout(300),
      catchError((error) => throwError(() => (error instanceof TimeoutError ? new RequestTimeoutException() : error))),
    );
  }
}

let runs = 0;

@Controller('ff')
@UseInterceptors(TimeoutInterceptor)
class FailFastController {
  @Post(':id')
  @WithLock('params.id', { scope: 'jobs' }) // fail-fast: wait 0
  run(@Param('id') _id: string) {
    runs += 1;
    return { ran: true };
  }
}

let app: INestApplication;
let url: string;
let namespace: string;
let observer: ZookeeperService;

beforeAll(async () => {
  namespace = uniqueNamespace('review18b-late');
  @Module({
    imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace, operationTimeout: 10_000 })],
    controllers: [FailFastController],
  })
  class AppModule {}
  app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  url = await app.getUrl();
  observer = await newService({ namespace });
});
afterAll(async () => {
  await app.close();
  await cleanup();
});

it('releases a fail-fast grant that lands after an outer timeout() answered the caller', async () => {
  const zk = app.get(ZookeeperService);
  const holder = `${namespace}/jobs/late`;
  // Make the scope dir first, so that the create of the holder is the request held below.
  await request(url).post('/ff/warm').expect(201);
  const faults = new ClientFaults(zk);
  const create = faults.holdReply('create', holder);
  const answer = await request(url).post('/ff/late');
  expect(answer.status).toBe(408); // the caller is gone (answered) while the create is in flight
  await create.arrived; // the server made the holder node: the grant lands now
  create.release();
  // The interceptor gives the late grant back: the node goes, the handler never ran.
  const freed = await waitForGone(observer, holder, 5_000).then(
    () => 'freed',
    () => 'still held by nobody',
  );
  faults.restore();
  expect({ freed, runs: runs - 1 }).toEqual({ freed: 'freed', runs: 0 });
});
