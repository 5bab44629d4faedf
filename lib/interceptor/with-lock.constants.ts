/** Metadata key of @WithLock (namespaced, so it never meets another library's). */
export const WITH_LOCK_METADATA = 'nestjs-zookeeper-lock:with-lock';

/** Metadata key of @SkipLock. */
export const SKIP_LOCK_METADATA = 'nestjs-zookeeper-lock:skip-lock';
