/**
 * review18a: README "Release never deletes someone else's lock": the one gap left is a third party
 * creating our node's name "within one network delay before our delete (the time a notification takes to
 * reach us)".
 *
 * deleteUnread drops the holder watch before its first MULTI (zookeeper-lock.backend.ts:515, "before our
 * own delete fires it"). When that MULTI is refused because a queue we emptied was joined by someone
 * (NOT_EMPTY: the MULTI did nothing, our holder node is untouched), afterUnreadDelete (:616-629) sends the
 * SAME unread removes again, a full round trip later, on the word of a watch that no longer listens. If
 * our node was deleted and the name taken meanwhile, the notification of it reached us before the
 * refusal did, and was ignored: the retry deletes the newcomer's node at version 0. Here the refusal is
 * answered late (a slow server); meanwhile an operator removes B's holder node and D takes the lock
 * fail-fast. B's retried MULTI deletes D's node, and C (waiting behind B) takes the lock while D holds it.
 */
import { LockService } from '../lib/lock/lock.service';
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';

afterEach(restoreSideFaults);
afterAll(cleanup);

type RawMulti = (ops: unknown[], callback: (...reply: unknown[]) => void) => void;

it('does not resend its unread delete, after a queue refused it, once the holder node changed hands', async () => {
  const namespace = uniqueNamespace('r18a-retry');
  const operator = await newService({ namespace });
  const a = newLockService(await newService({ namespace }));
  const cZk = await newService({ namespace });
  const c = newLockService(cZk);
  const dZk = await newService({ namespace });
  const d = newLockService(dZk);
  const { zk, backend } = await backendSide(namespace);
  const b = new LockService(backend);
  const holder = `${namespace}/default/job`;
  const queue = `${holder}%q`;

  const held = await a.acquire('job');
  const takingB = b.acquire('job', { wait: 20_000 });
  await waitForChildren(operator, queue, 1);
  await held.release();
  const handleB = await takingB; // B: holder node (its watch vouches) + waiter node
  const takingC = c.acquire('job', { wait: 20_000 }); // C waits behind B's waiter node
  let cHolds = false;
  takingC.then(() => (cHolds = true), () => undefined);
  await waitForChildren(operator, queue, 2);

  // The release's MULTI (holder, waiter, queue) is refused NOT_EMPTY (C waits in the queue); its answer is slow.
  const session = (zk as unknown as { session: { multi: RawMulti } }).session;
  const original = session.multi;
  let answerRefusal!: () => void;
  const refusalArrived = new Promise<void>((arrived) => {
    session.multi = (ops, callback) => {
      session.multi = original;
      original.call(session, ops, (...reply: unknown[]) => {
        arrived();
        answerRefusal = () => callback(...reply);
      });
    };
  });
  const releasing = handleB.release();
  await refusalArrived;
  // Meanwhile B's holder node is deleted by someone, and D takes the free lock (fail-fast).
  await operator.remove(holder);
  const handleD = await d.acquire('job');
  expect((await operator.exists(holder))?.ephemeralOwner).toBe(dZk.sessionId);

  answerRefusal();
  await releasing;
  await drainJanitor(backend);
  const after = await operator.exists(holder);
  console.log(`after B's release: holder node owned by ${after?.ephemeralOwner ?? 'nobody'} (D is ${dZk.sessionId}); D's signal aborted: ${handleD.signal.aborted}, C holds: ${cHolds}`);
  expect(after?.ephemeralOwner).toBe(dZk.sessionId); // D's node left alone
  expect(handleD.signal.aborted).toBe(false);
  expect(cHolds).toBe(false); // C still waits: D holds the lock
  await handleD.release();
  await (await takingC).release();
});
