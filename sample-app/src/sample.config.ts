import { ConfigService, registerAs } from '@nestjs/config';
import { join } from 'node:path';

/** The sample's settings, read from the environment once per application instance (see README). */
export interface SampleConfig {
  port: number;
  zookeeper: {
    connectionString: string;
    namespace: string;
    sessionTimeout: number;
    /** Who this instance is in `inspect`/`list`; undefined: the library's default, `<hostname>/<pid>`. */
    ownerName?: string;
  };
  /** Bearer token of the /admin routes; undefined: those routes are off (403). */
  adminToken?: string;
  accountsFile: string;
  /** Whether this instance's scheduler fires the settlement job (every instance may; one runs each tick). */
  settlementEnabled: boolean;
}

/** ConfigService typed for `config.get('sample', { infer: true })`. */
export type SampleConfigService = ConfigService<{ sample: SampleConfig }, true>;

/**
 * Parses the environment, refusing a bad value at start-up with a message that names the variable (a
 * typo in SETTLEMENT_ENABLED must not silently turn the job on or off).
 */
export function readSampleConfig(env: NodeJS.ProcessEnv = process.env): SampleConfig {
  const adminToken = text(env, 'ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new Error('ADMIN_TOKEN must be at least 16 characters (or unset, which turns the /admin routes off)');
  }
  return {
    port: whole(env, 'PORT', 3000, 0, 65_535),
    zookeeper: {
      connectionString: text(env, 'ZOOKEEPER_CONNECT') ?? 'localhost:2181',
      namespace: text(env, 'LOCK_NAMESPACE') ?? '/sample-app/locks',
      sessionTimeout: whole(env, 'ZOOKEEPER_SESSION_TIMEOUT', 15_000, 1_000, 3_600_000),
      ownerName: text(env, 'LOCK_OWNER_NAME'),
    },
    adminToken,
    accountsFile: text(env, 'ACCOUNTS_FILE') ?? join(process.cwd(), 'sample-app', 'data', 'accounts.json'),
    settlementEnabled: flag(env, 'SETTLEMENT_ENABLED', true),
  };
}

/** For `ConfigModule.forRoot({ load: [sampleConfig] })`: evaluated when each application is created. */
export const sampleConfig = registerAs('sample', () => readSampleConfig());

function text(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const value = text(env, name);
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return number;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = text(env, name);
  if (value === undefined) return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`${name} must be true or false (or 1 or 0), got ${JSON.stringify(value)}`);
}
