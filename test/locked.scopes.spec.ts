/**
 * @Locked works on singleton providers only (their instances are handed the LockService at start-up).
 * Request-scoped and transient providers with @Locked methods are named in a warning at start-up, and
 * their calls reject with an error that says why, instead of failing silently.
 */
import { Controller, Get, Inject, Injectable, Logger, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Locked, ZookeeperLockModule } from 'nestjs-zookeeper-lock';
import { sharedConnectString, uniqueNamespace } from './support/zookeeper';

@Injectable({ scope: Scope.REQUEST })
class PerRequestJobs {
  @Locked('per-request')
  async run(): Promise<string> {
    return 'ran';
  }

  @Locked((id: string) => id)
  async other(id: string): Promise<string> {
    return id;
  }
}

@Injectable()
class NeedsTheRequest {
  constructor(@Inject(REQUEST) readonly request: unknown) {}

  @Locked('needs-request')
  async run(): Promise<string> {
    return 'ran';
  }
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientJobs {
  @Locked('transient')
  async run(): Promise<string> {
    return 'ran';
  }
}

@Injectable()
class SingletonJobs {
  constructor(readonly transient: TransientJobs) {}

  @Locked('singleton')
  async run(): Promise<string> {
    return 'ran';
  }
}

@Controller('plain')
class PlainController {
  @Get()
  get(): string {
    return 'no locks here';
  }
}

describe('@Locked on providers that are not singletons', () => {
  it('names each request-scoped or transient provider with @Locked methods in a start-up warning', async () => {
    const warned = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const moduleRef = await Test.createTestingModule({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace: uniqueNamespace('scopes') })],
      providers: [PerRequestJobs, NeedsTheRequest, TransientJobs, SingletonJobs],
      controllers: [PlainController],
    }).compile();
    try {
      await moduleRef.init();
      const warnings = warned.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('@Locked'));
      warned.mockRestore();
      expect(warnings).toHaveLength(3);
      expect(warnings).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^PerRequestJobs is request-scoped .*@Locked methods run, other will reject when called/),
          expect.stringMatching(/^NeedsTheRequest is request-scoped \(or depends on a request-scoped provider\): its @Locked method run /),
          expect.stringMatching(/^TransientJobs is transient: its @Locked method run will reject when called/),
        ]),
      );

      // The singleton works; the transient instance it was given does not, and says why.
      const singleton = moduleRef.get(SingletonJobs);
      await expect(singleton.run()).resolves.toBe('ran');
      await expect(singleton.transient.run()).rejects.toThrow(/no LockService on this instance. It must be a singleton provider/);
    } finally {
      warned.mockRestore();
      await moduleRef.close();
    }
  });
});
