import type { ExecutionContext } from '@nestjs/common';

/** The part of an EventEmitter (a socket, a response) that we listen on. */
interface Closable {
  once(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

/**
 * Calls `onGone` once when the caller of this handler disconnects before it was answered; returns the
 * function that stops watching. Nest itself unsubscribes from the handler's result when an SSE client
 * leaves and when a WebSocket client disconnects (its adapters end a socket's message stream on close),
 * which cancels the wait; for the rest the transport's own connection is watched:
 * - HTTP: the response's `close` before it finished (Express's response, or the raw one under Fastify),
 *   or a response closed already when the handler's result is subscribed to (it left during a guard);
 * - GraphQL over HTTP: the same response, found in the resolver's context (`res`, `req.res` as Apollo on
 *   Express gives it, or Mercurius's `reply`);
 * - TCP microservice: the requesting connection's `close`.
 * Transports that go through a broker (Redis, NATS, RabbitMQ, Kafka, ...) have no connection of the
 * requester to watch: a waiting handler there is bounded by its `wait` and by `maxWaiters` only.
 */
export function onClientGone(context: ExecutionContext, onGone: () => void): () => void {
  switch (context.getType<string>()) {
    case 'http':
      return onResponseGone(context.switchToHttp().getResponse(), onGone);
    case 'graphql':
      return onResponseGone(graphqlResponse(context.getArgs()[2]), onGone);
    case 'rpc':
      return onTcpClientGone(context.switchToRpc().getContext(), onGone);
    default:
      return noop;
  }
}

export function noop(): void {}

/** The HTTP response behind a GraphQL resolver's context, if it has one (not over WebSocket). */
function graphqlResponse(gqlContext: unknown): unknown {
  const candidate = gqlContext as { res?: unknown; req?: { res?: unknown }; reply?: unknown } | undefined;
  return candidate?.res ?? candidate?.req?.res ?? candidate?.reply;
}

function onResponseGone(found: unknown, onGone: () => void): () => void {
  const response = found as { raw?: unknown } | undefined;
  const raw = (response?.raw ?? response) as (Closable & { writableFinished?: boolean; closed?: boolean; destroyed?: boolean }) | undefined;
  if (!isClosable(raw)) return noop;
  // Gone already (it left while a guard or pipe ran, before we subscribed): its `close` came and went.
  if ((raw.closed === true || raw.destroyed === true) && !raw.writableFinished) {
    queueMicrotask(onGone);
    return noop;
  }
  return listen(raw, () => {
    if (!raw.writableFinished) onGone();
  });
}

function onTcpClientGone(rpcContext: unknown, onGone: () => void): () => void {
  const ref = (rpcContext as { getSocketRef?: () => { netSocket?: unknown } } | undefined)?.getSocketRef?.();
  const socket = ref?.netSocket as (Closable & { destroyed?: boolean }) | undefined;
  if (!isClosable(socket)) return noop;
  if (socket.destroyed) {
    queueMicrotask(onGone);
    return noop;
  }
  return listen(socket, onGone);
}

/**
 * One `close` listener per emitter, however many handlers wait on it: a GraphQL operation's locked
 * resolvers share one HTTP response, and a TCP microservice client's requests one socket. A listener each
 * would pile up past Node's limit of 10 (a MaxListenersExceededWarning on every busy query).
 */
const watchers = new WeakMap<Closable, { callbacks: Set<() => void>; fire: () => void }>();

function listen(emitter: Closable, onGone: () => void): () => void {
  let watcher = watchers.get(emitter);
  if (!watcher) {
    const callbacks = new Set<() => void>();
    const fire = () => {
      watchers.delete(emitter);
      for (const callback of [...callbacks]) callback();
    };
    watcher = { callbacks, fire };
    watchers.set(emitter, watcher);
    emitter.once('close', fire);
  }
  const shared = watcher;
  let done = false;
  const callback = () => {
    if (done) return;
    stop();
    onGone();
  };
  const stop = () => {
    if (done) return;
    done = true;
    shared.callbacks.delete(callback);
    if (shared.callbacks.size === 0 && watchers.get(emitter) === shared) {
      watchers.delete(emitter);
      emitter.removeListener('close', shared.fire);
    }
  };
  shared.callbacks.add(callback);
  return stop;
}

function isClosable(value: unknown): value is Closable {
  const candidate = value as Partial<Closable> | undefined;
  return typeof candidate?.once === 'function' && typeof candidate.removeListener === 'function';
}
