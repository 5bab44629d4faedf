/** Largest `limit`: a billion holders is beyond anything ZooKeeper can keep anyway. */
export const MAX_LOCK_LIMIT = 1_000_000_000;
