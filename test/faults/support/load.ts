/**
 * Load for the fault suite: many concurrent HTTP clients (keep-alive) over a handful of ids, and the
 * checks that go with it (counters against 200s, overlapping critical sections).
 */
import http from 'node:http';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Outcomes, emptyOutcomes } from './figures';

export interface Reply {
  status: number;
  body: string;
  latencyMs: number;
  /** Set when there was no HTTP answer (socket error, or no answer within the client timeout). */
  error?: string;
}

const agents = new Map<string, http.Agent>();

function agentFor(origin: string): http.Agent {
  let agent = agents.get(origin);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    agents.set(origin, agent);
  }
  return agent;
}

/** Closes the keep-alive sockets (so no socket is left open after a test file). */
export function closeAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/** A request body sent exactly as given (for malformed or unusual JSON). */
export class RawBody {
  constructor(
    readonly text: string,
    readonly contentType = 'application/json',
  ) {}
}

/** One POST; never rejects: a missing answer is a Reply with `error` (status 0). */
export function post(url: string, body?: unknown, timeoutMs = 30_000): Promise<Reply> {
  const target = new URL(url);
  const raw = body instanceof RawBody ? body : undefined;
  const payload = body === undefined ? undefined : Buffer.from(raw ? raw.text : JSON.stringify(body));
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (reply: Omit<Reply, 'latencyMs'>) => {
      if (done) return;
      done = true;
      resolve({ ...reply, latencyMs: performance.now() - started });
    };
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: url.slice(target.origin.length), // as given: no normalisation of dot segments
        method: 'POST',
        agent: agentFor(target.origin),
        headers: payload ? { 'content-type': raw?.contentType ?? 'application/json', 'content-length': payload.length } : { 'content-length': 0 },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (error) => finish({ status: 0, body: text, error: error.message }));
      },
    );
    req.setTimeout(timeoutMs, () => {
      finish({ status: 0, body: '', error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    });
    req.on('error', (error) => finish({ status: 0, body: '', error: error.message }));
    req.end(payload);
  });
}

export function classify(outcomes: Outcomes, status: number): void {
  if (status === 200 || status === 201) outcomes[200] += 1;
  else if (status === 400 || status === 409 || status === 503) outcomes[status] += 1;
  else outcomes.other += 1;
}

export interface LoadOptions {
  /** Base URLs of the app instances; requests go round-robin. */
  targets: string[];
  ids: string[];
  clients: number;
  /** Stop after this many requests (or when `stop()` is called). */
  total: number;
  /** Every n-th request goes to the queued route (0: none). */
  queuedEvery?: number;
  /** The route of request n for `id` (default: /counter/:id, or /counter/:id/queued per `queuedEvery`). */
  path?: (id: string, n: number) => string;
  /** Client timeout: a request without an answer by then counts as `other` (a hang). */
  timeoutMs?: number;
}

export interface LoadRun {
  /** Resolves when every client has finished. */
  done: Promise<LoadResult>;
  /** Stops issuing new requests (those in flight finish). */
  stop(): void;
  /** Resolves once `count` more requests answered 200 from now (rejects after `timeoutMs`). */
  moreSuccesses(count: number, timeoutMs?: number): Promise<void>;
  readonly result: LoadResult;
}

export interface LoadResult {
  requests: number;
  outcomes: Outcomes;
  okById: Record<string, number>;
  maxLatencyMs: number;
  /** Latency of the slowest answer of each status. */
  maxLatencyByStatus: Record<string, number>;
  /** Route of the slowest answer of each status. */
  slowestRouteByStatus: Record<string, string>;
  /** Slowest answer by "<status> <fail-fast|queued>". */
  maxLatencyByKind: Record<string, number>;
  /** A few bodies of unexpected answers, for the failure message. */
  samples: string[];
  /** [time since start ms, status] of every answer (for timelines). */
  timeline: Array<[number, number]>;
}

export function startLoad(options: LoadOptions): LoadRun {
  const { targets, ids, clients, total, queuedEvery = 0, timeoutMs = 30_000 } = options;
  const path = options.path ?? ((id: string, n: number) => (queuedEvery > 0 && n % queuedEvery === 0 ? `/counter/${id}/queued` : `/counter/${id}`));
  const result: LoadResult = {
    requests: 0,
    outcomes: emptyOutcomes(),
    okById: Object.fromEntries(ids.map((id) => [id, 0])),
    maxLatencyMs: 0,
    maxLatencyByStatus: {},
    slowestRouteByStatus: {},
    maxLatencyByKind: {},
    samples: [],
    timeline: [],
  };
  let issued = 0;
  let stopped = false;
  const started = performance.now();
  const successWaiters = new Set<{ target: number; resolve: () => void }>();

  async function client(): Promise<void> {
    while (!stopped && issued < total) {
      const n = issued++;
      const id = ids[Math.floor(Math.random() * ids.length)];
      const route = path(id, n);
      const reply = await post(targets[n % targets.length] + route, undefined, timeoutMs);
      result.requests += 1;
      classify(result.outcomes, reply.status);
      if (reply.status === 200) {
        result.okById[id] += 1;
        for (const waiter of [...successWaiters]) {
          if (result.outcomes[200] >= waiter.target) {
            successWaiters.delete(waiter);
            waiter.resolve();
          }
        }
      } else if (reply.status !== 409 && reply.status !== 503 && result.samples.length < 5) {
        result.samples.push(`${reply.status} ${reply.error ?? reply.body}`);
      }
      result.maxLatencyMs = Math.max(result.maxLatencyMs, reply.latencyMs);
      const key = String(reply.status);
      const kind = `${key} ${route.endsWith('/queued') ? 'queued' : 'fail-fast'}`;
      result.maxLatencyByKind[kind] = Math.max(result.maxLatencyByKind[kind] ?? 0, Math.round(reply.latencyMs));
      if (reply.latencyMs > (result.maxLatencyByStatus[key] ?? -1)) {
        result.maxLatencyByStatus[key] = Math.round(reply.latencyMs);
        result.slowestRouteByStatus[key] = route;
      }
      result.timeline.push([Math.round(performance.now() - started), reply.status]);
    }
  }

  const done = Promise.all(Array.from({ length: clients }, client)).then(() => result);
  return {
    done,
    result,
    stop: () => {
      stopped = true;
    },
    moreSuccesses(count, waitMs = 60_000) {
      const target = result.outcomes[200] + count;
      return new Promise<void>((resolve, reject) => {
        const waiter = { target, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          successWaiters.delete(waiter);
          reject(new Error(`fewer than ${count} more 200s within ${waitMs} ms (${JSON.stringify(result.outcomes)})`));
        }, waitMs);
        successWaiters.add(waiter);
        void done.then(() => {
          if (successWaiters.delete(waiter)) {
            clearTimeout(timer);
            reject(new Error(`load ended before ${count} more 200s`));
          }
        });
      });
    },
  };
}

/** Sum of the counter files (one per id) in `dataDir`, by id. */
export function readCounters(dataDir: string, ids: string[]): Record<string, number> {
  return Object.fromEntries(
    ids.map((id) => {
      const file = join(dataDir, encodeURIComponent(id));
      return [id, existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0];
    }),
  );
}

export interface Interval {
  id: string;
  enter: bigint;
  leave: bigint;
  pid: number;
  lost: boolean;
  /** `w` (exclusive, the counter routes), `r` (shared reader), `l` (limited). */
  kind: string;
}

/** Every critical section logged by the app instances (every *.log file in `logDir`). */
export function readIntervals(logDir: string): Interval[] {
  const out: Interval[] = [];
  for (const name of readdirSync(logDir).filter((n) => n.endsWith('.log'))) {
    for (const line of readFileSync(join(logDir, name), 'utf8').split('\n')) {
      if (!line) continue;
      const [id, enter, leave, pid, lost, kind] = line.split('\t');
      out.push({ id, enter: BigInt(enter), leave: BigInt(leave), pid: Number(pid), lost: lost === '1', kind: kind ?? 'w' });
    }
  }
  return out;
}

/**
 * Pairs of critical sections of one id that overlap in time. Sections of one id sorted by entry: each
 * must begin after every earlier one has ended.
 */
export function countOverlaps(intervals: Interval[]): { overlaps: number; examples: string[] } {
  const byId = new Map<string, Interval[]>();
  for (const each of intervals) byId.set(each.id, [...(byId.get(each.id) ?? []), each]);
  let overlaps = 0;
  const examples: string[] = [];
  for (const [id, list] of byId) {
    list.sort((a, b) => (a.enter < b.enter ? -1 : a.enter > b.enter ? 1 : 0));
    let latest = list[0];
    for (const current of list.slice(1)) {
      if (current.enter < latest.leave) {
        overlaps += 1;
        if (examples.length < 5) examples.push(`${id}: pid ${current.pid} entered ${latest.leave - current.enter} ns before pid ${latest.pid} left`);
      }
      if (current.leave > latest.leave) latest = current;
    }
  }
  return { overlaps, examples };
}
