/**
 * Apache Curator on the same server, for the bench's table: compiles ../shared/anchors/*.java (or
 * BENCH_ANCHORS_DIR) once against Debian's libcurator-recipes-java, and runs CurBench and CurContend.
 * Everything is optional: without java, javac, the jars or the sources, `available()` says why and the
 * bench prints its own columns only.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const JARS = '/usr/share/java';
const NEEDED = ['curator-recipes', 'curator-framework', 'curator-client', 'zookeeper', 'zookeeper-jute', 'guava', 'slf4j-api', 'slf4j-nop'];

export interface CuratorFigures {
  /** InterProcessMutex acquire+release, sequential, per second. */
  sequential: number;
  /** acquire(0 ms)+release, sequential. */
  tryZero: number;
  /** Curator's own raw create+delete, sequential. */
  raw: number;
  /** acquire+release on 64 threads. */
  threads64: number;
}

/** ../shared/anchors beside the repository, or the canonical checkout's (/work/shared/anchors). */
function defaultSources(): string {
  const beside = resolve(__dirname, '../../shared/anchors');
  return existsSync(beside) ? beside : '/work/shared/anchors';
}

export class CuratorAnchors {
  private classes?: string;
  private classpath?: string;
  readonly problem?: string;

  constructor(private readonly sources = process.env.BENCH_ANCHORS_DIR ?? defaultSources()) {
    this.problem = this.prepare();
  }

  get available(): boolean {
    return this.problem === undefined;
  }

  private prepare(): string | undefined {
    if (process.env.BENCH_ANCHORS === '0') return 'BENCH_ANCHORS=0';
    if (!existsSync(join(this.sources, 'CurContend.java'))) return `no anchors in ${this.sources}`;
    const jars = NEEDED.map((name) => join(JARS, `${name}.jar`));
    const missing = jars.filter((jar) => !existsSync(jar));
    if (missing.length > 0) return `missing ${missing.join(', ')} (apt-get install -y libcurator-recipes-java)`;
    const netty = readdirSync(JARS).filter((f) => /^netty-.*\.jar$/.test(f)).map((f) => join(JARS, f));
    this.classpath = [...jars, ...netty].join(':');
    this.classes = mkdtempSync(join(tmpdir(), 'nzl-anchors-'));
    try {
      const sources = readdirSync(this.sources).filter((f) => f.endsWith('.java')).map((f) => join(this.sources, f));
      execFileSync('javac', ['-nowarn', '-d', this.classes, '-cp', this.classpath, ...sources], { stdio: 'pipe' });
    } catch (error) {
      return `javac failed: ${(error as Error).message.split('\n')[0]}`;
    }
    return undefined;
  }

  /** CurBench: N sequential acquires (and the rest), against `zk`. */
  async bench(zk: string, n: number): Promise<CuratorFigures> {
    const out = await this.run('CurBench', { ZK: zk, N: String(n) });
    const figure = (label: RegExp) => Number(label.exec(out)?.[1] ?? NaN);
    return {
      sequential: figure(/acquire\+release sequential: (\d+)\/s/),
      tryZero: figure(/try\(0ms\) sequential: (\d+)\/s/),
      raw: figure(/raw create\+delete sequential: (\d+)\/s/),
      threads64: figure(/64 threads: (\d+)\/s/),
    };
  }

  /** CurContend: `threads` threads loop on one lock for `seconds`; hand-offs per second and violations. */
  async contend(zk: string, threads: number, seconds: number): Promise<{ handoffs: number; violations: number }> {
    const out = await this.run('CurContend', { ZK: zk, T: String(threads), SECS: String(seconds) });
    const match = /([\d.]+) handoffs\/s, violations (\d+)/.exec(out);
    return { handoffs: Number(match?.[1] ?? NaN), violations: Number(match?.[2] ?? NaN) };
  }

  dispose(): void {
    if (this.classes) rmSync(this.classes, { recursive: true, force: true });
  }

  private run(main: string, env: Record<string, string>): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn('java', ['-Xms256m', '-cp', `${this.classes}:${this.classpath}`, main], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.stderr.on('data', (chunk) => (out += chunk));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${main} exited ${code}: ${out.slice(-500)}`))));
    });
  }
}
