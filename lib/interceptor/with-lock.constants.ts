/** Metadata key of @WithLock (namespaced, so it never meets another library's). */
export const WITH_LOCK_METADATA = 'nestjs-zookeeper-lock:with-lock';
