import { gateNext } from '../../lib/recipes/gate.recipe';

const answer = (code: string, outcomeUnknown = false) => ({ code, outcomeUnknown }) as never;

describe('the gatekeeper\'s create of the gate (pure)', () => {
  it('says what the answer means for the exclusive waiter', () => {
    expect(gateNext(undefined)).toBe('ours');
    expect(gateNext(answer('NODE_EXISTS'))).toBe('look'); // ours from a lost reply, or a former gatekeeper's
    expect(gateNext(answer('NO_NODE'))).toBe('no-group'); // shared waiters ahead have not made their group yet
    expect(gateNext(answer('NO_CHILDREN_FOR_EPHEMERALS'))).toBe('held'); // an exclusive fail-fast holder
    expect(gateNext(answer('CONNECTION_LOSS', true))).toBe('doubtful');
    expect(gateNext(answer('NO_AUTH'))).toBe('fail');
  });
});
