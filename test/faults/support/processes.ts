/**
 * Child processes of the fault suite (app instances, lock holders), tracked so that every one of them is
 * killed after each test file, whatever happened.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '../../..');
const alive = new Set<Child>();

export class Child {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(script: string, args: string[]) {
    this.process = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, script), ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    alive.add(this);
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const listener of [...this.listeners]) listener();
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4_000);
    });
    this.exited = new Promise((resolve) =>
      this.process.once('exit', (code) => {
        this.exitCode = code;
        alive.delete(this);
        for (const listener of [...this.listeners]) listener();
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.process.pid as number;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves with the first line (at index `from` or later) matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const match = this.lines[i].match(pattern);
          if (match) return finish(() => resolve(match));
        }
        if (!this.running) finish(() => reject(new Error(`${this.describe()} exited (${this.exitCode}) before printing ${pattern}\n${this.stderr}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.describe()} printed no ${pattern} within ${timeoutMs} ms; lines: ${this.lines.slice(-5).join(' | ')}\n${this.stderr}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Sends a signal (SIGKILL also reaches a stopped process); resolves on exit for terminating signals. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.process.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await this.exited;
  }

  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }

  private describe(): string {
    return `child ${this.pid} (${this.process.spawnargs.slice(3, 4).join(' ')})`;
  }
}

/** Kills every child still running (SIGKILL) and waits for them to exit. */
export async function killChildren(): Promise<void> {
  await Promise.all([...alive].map((child) => child.kill('SIGKILL')));
}

export interface StartedApp {
  child: Child;
  url: string;
  sessionId: string;
}

/** Starts counter-app.ts as a separate process; resolves once it listens. */
export async function startCounterApp(config: object): Promise<StartedApp> {
  const child = new Child('test/faults/support/counter-app.ts', [JSON.stringify(config)]);
  const [, url, sessionId] = await child.waitForLine(/^ready (\S+) (\S+)$/, 60_000);
  return { child, url, sessionId };
}

/** Starts holder.ts; resolves once it holds every id. */
export async function startHolder(config: object): Promise<{ child: Child; sessionId: string }> {
  const child = new Child('test/faults/support/holder.ts', [JSON.stringify(config)]);
  const [, sessionId] = await child.waitForLine(/^held ([0-9a-f]{16})$/, 60_000);
  return { child, sessionId };
}

/** Starts candidate.ts (a process running for leadership); resolves once it has a session. */
export async function startCandidate(config: object): Promise<{ child: Child; sessionId: string }> {
  const child = new Child('test/faults/support/candidate.ts', [JSON.stringify(config)]);
  const [, sessionId] = await child.waitForLine(/^ready ([0-9a-f]{16})$/, 60_000);
  return { child, sessionId };
}
