/** Metadata key of a @Locked method (namespaced, so it never meets another library's). */
export const LOCKED_METADATA = 'nestjs-zookeeper-lock:locked';

/** Metadata on a class: it has @Locked methods (so LockedMethodsExplorer wires its instances). */
export const LOCKED_CLASS_METADATA = 'nestjs-zookeeper-lock:locked-class';

/** Where LockedMethodsExplorer puts the LockService on a provider instance with @Locked methods. */
export const LOCKED_LOCK_SERVICE = Symbol('nestjs-zookeeper-lock:lock-service');
