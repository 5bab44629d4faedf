import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SampleConfig } from './sample.config';

export interface Account {
  id: string;
  balance: number;
  /** Highest fencing token that wrote this account: older holders are refused. */
  fencingToken: string;
}

/**
 * Balances in a JSON file: a real read-modify-write that survives requests and is shared by every
 * instance of the app on this machine. Without the lock, two instances (or a double submit) would
 * read the same balance and one update would be lost.
 *
 * Ids come from the URL, so they are keys of a Map, never of a plain object: `__proto__` or
 * `constructor` as an id would otherwise read (and write) Object.prototype.
 */
@Injectable()
export class AccountsStore {
  private readonly file: string;

  constructor(config: ConfigService<{ sample: SampleConfig }, true>) {
    this.file = config.get('sample.accountsFile', { infer: true });
  }

  async get(id: string): Promise<Account> {
    const all = await this.readAll();
    return all.get(id) ?? { id, balance: 0, fencingToken: '0' };
  }

  /** Writes an account unless a newer lock holder already wrote it (fencing). */
  async put(account: Account, fencingToken: bigint): Promise<Account> {
    const all = await this.readAll();
    const current = all.get(account.id);
    if (current && BigInt(current.fencingToken) > fencingToken) {
      throw new Error(`stale lock holder: token ${fencingToken} < ${current.fencingToken}`);
    }
    const stored = { ...account, fencingToken: String(fencingToken) };
    all.set(account.id, stored);
    await mkdir(dirname(this.file), { recursive: true });
    const temporary = `${this.file}.${process.pid}.tmp`;
    // Object.fromEntries defines own properties, so a `__proto__` id is stored as data.
    await writeFile(temporary, JSON.stringify(Object.fromEntries(all), null, 2));
    await rename(temporary, this.file); // atomic replace: readers never see half a file
    return stored;
  }

  private async readAll(): Promise<Map<string, Account>> {
    try {
      // JSON.parse makes `__proto__` an own property; Object.entries keeps only own ones.
      return new Map(Object.entries(JSON.parse(await readFile(this.file, 'utf8')) as Record<string, Account>));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
  }
}
