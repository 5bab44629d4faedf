import type { OwnedNodes } from './fail-fast.recipe';

/**
 * Same-session hand-over of a queued lock. When a holder releases and the waiter right behind it in the
 * queue waits in this very process, on the same session, ZooKeeper need not be asked anything: the holder
 * node belongs to the session, not to a caller. The successor takes over the holder node as it is (its
 * data, its version, the watch that vouches for it: holder-watch.ts) and keeps its own waiter node as its
 * place in the queue; the releaser's waiter node is removed in the background, off the critical path.
 * Without this, the successor would wait for the holder's delete, its notification, a listing of the
 * queue and a create of its own: two writes and a read in a row, each behind every other request in the
 * server's pipeline.
 *
 * FIFO holds: a waiter offers itself only while it watches the waiter node right before it, so nobody
 * stands between the two (sequence numbers only grow), and waiters of other processes keep their order
 * behind its node. A fail-fast caller never sees the lock free during a hand-over (it never is), which is
 * allowed: fail-fast callers only ever take a free lock.
 *
 * What the successor inherits, it answers for as if it had made it: the holder node keeps the first
 * holder's token, so the successor's grant names that token for its holder node (`holderToken`). Its
 * fencing token must still grow with the new holder: the first `fencingToken()` of an inherited grant
 * rewrites the holder node's data (same token), whose modification zxid is then the token.
 */
export interface HandOffOutcome {
  /** What the releaser held: its holder node (with its watch) and its waiter node. */
  readonly owned: OwnedNodes;
  /** The token the holder node carries. */
  readonly holderToken: string;
  /** The token the releaser's waiter node carries (its acquisition's). */
  readonly waiterToken: string;
}

/** A waiter offering itself for a hand-over while it waits on its predecessor's waiter node. */
export interface HandOffCandidate {
  readonly sessionId: string;
  /**
   * Whether it still wants the lock (its caller has not aborted, its deadline has not passed): asked at
   * the release, which may come before the waiter has noticed that it gave up. No hand-over otherwise.
   */
  wants(): boolean;
}

export interface HandOffOffer {
  /** Resolves with what it inherits when a releaser hands it the lock. */
  readonly handedOver: Promise<HandOffOutcome>;
  /** Handed over already (check after the wait ends, whatever ended it). */
  readonly outcome: HandOffOutcome | undefined;
  /** Takes the offer back: no hand-over is possible afterwards. Idempotent. */
  withdraw(): void;
}

/** Waiters of this process that offer themselves, keyed by the waiter node they wait on. */
export class HandOffs {
  private readonly offers = new Map<string, { sessionId: string; wants: () => boolean; take: (outcome: HandOffOutcome) => void }>();

  /** Offers a waiter to whoever releases the lock whose waiter node is `predecessor`. */
  offer(predecessor: string, candidate: HandOffCandidate): HandOffOffer {
    let resolve!: (outcome: HandOffOutcome) => void;
    const handedOver = new Promise<HandOffOutcome>((r) => (resolve = r));
    let outcome: HandOffOutcome | undefined;
    const entry = {
      sessionId: candidate.sessionId,
      wants: () => candidate.wants(),
      take: (given: HandOffOutcome) => {
        outcome = given;
        resolve(given);
      },
    };
    // One waiter per predecessor (a sequence has one successor); a stale entry is replaced.
    this.offers.set(predecessor, entry);
    return {
      handedOver,
      get outcome() {
        return outcome;
      },
      withdraw: () => {
        if (this.offers.get(predecessor) === entry) this.offers.delete(predecessor);
      },
    };
  }

  /**
   * Hands `outcome` to the waiter offering itself behind `waiterNode` on `sessionId`. True when there
   * was one (it holds the lock now); false when the releaser must free the lock in ZooKeeper.
   */
  handTo(waiterNode: string, sessionId: string, outcome: HandOffOutcome): boolean {
    const entry = this.offers.get(waiterNode);
    if (!entry || entry.sessionId !== sessionId) return false;
    this.offers.delete(waiterNode);
    if (!entry.wants()) return false; // gave up just now: the lock is freed in ZooKeeper instead
    entry.take(outcome);
    return true;
  }

  /** Offers open now (for leak checks). */
  get size(): number {
    return this.offers.size;
  }
}
