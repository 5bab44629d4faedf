import {
  BadRequestException,
  Controller,
  Get,
  Param,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { InvalidLockIdError, LockInfo, LockService, LockUnavailableError } from 'nestjs-zookeeper-lock';
import { AdminTokenGuard } from './admin-token.guard';

/** A LockInfo as JSON: fencing tokens are bigints, which JSON.stringify refuses, so they go as strings. */
export interface LockInfoJson extends Omit<LockInfo, 'holders'> {
  holders: { owner: string; since: string; fencingToken: string }[];
}

/**
 * Who holds which lock, for operators: `LockService.inspect` and `list` read the lock nodes in
 * ZooKeeper, so they see every instance's locks, not only this one's. Both answers are snapshots (a lock
 * may be taken or freed a moment later). Behind AdminTokenGuard, since they name owners and ids.
 */
@Controller('admin/locks')
@UseGuards(AdminTokenGuard)
export class AdminController {
  constructor(private readonly locks: LockService) {}

  /** Every lock held right now, in one scope (`?scope=accounts`) or in all; one read per lock. */
  @Get()
  async list(@Query('scope') scope?: unknown): Promise<LockInfoJson[]> {
    if (scope !== undefined && typeof scope !== 'string') throw new BadRequestException('scope must be one string');
    const held = await answer(() => this.locks.list(scope === undefined ? {} : { scope }));
    return held.map(toJson);
  }

  /** One lock, held or free, with how many callers wait for it: `GET /admin/locks/accounts/acct-1`. */
  @Get(':scope/:id')
  async inspect(@Param('scope') scope: string, @Param('id') id: string): Promise<LockInfoJson> {
    return toJson(await answer(() => this.locks.inspect(id, { scope })));
  }
}

/** Lock errors as HTTP answers: a bad scope or id is the caller's 400, ZooKeeper unreachable a 503. */
async function answer<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidLockIdError) throw new BadRequestException(error.message);
    if (error instanceof LockUnavailableError) throw new ServiceUnavailableException('ZooKeeper is unavailable', { cause: error });
    throw error;
  }
}

function toJson(info: LockInfo): LockInfoJson {
  return {
    ...info,
    holders: info.holders.map((holder) => ({
      owner: holder.owner,
      since: holder.since.toISOString(),
      fencingToken: String(holder.fencingToken),
    })),
  };
}
