import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { LockService } from '../lock/lock.service';
import { LOCKED_CLASS_METADATA, LOCKED_LOCK_SERVICE, LOCKED_METADATA } from './locked.constants';

/**
 * Hands the LockService to every singleton provider (and controller) whose class has @Locked methods.
 * Runs at module init, before any application bootstrap hook (such as a scheduler starting its jobs).
 *
 * Request-scoped and transient providers cannot be wired: their instances are made later, one per request
 * or per consumer, and never pass through here. Their @Locked methods would reject at call time, so each
 * such provider is named in a warning at start-up (as @nestjs/schedule does for its jobs).
 */
@Injectable()
export class LockedMethodsExplorer implements OnModuleInit {
  private readonly logger = new Logger('ZookeeperLock');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly locks: LockService,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const type = classOf(wrapper);
      if (!type || !Reflect.getMetadata(LOCKED_CLASS_METADATA, type)) continue;
      if (wrapper.isTransient || !wrapper.isDependencyTreeStatic()) {
        this.warnNotWired(wrapper, type);
        continue;
      }
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object') continue;
      // First module wins: an application normally has one LockService.
      const target = instance as Record<symbol, unknown>;
      if (!target[LOCKED_LOCK_SERVICE]) {
        Object.defineProperty(target, LOCKED_LOCK_SERVICE, { value: this.locks, enumerable: false });
      }
    }
  }

  private warnNotWired(wrapper: InstanceWrapper, type: Function): void { // eslint-disable-line @typescript-eslint/no-unsafe-function-type
    const kind = wrapper.isTransient ? 'transient' : 'request-scoped (or depends on a request-scoped provider)';
    const methods = lockedMethods(type);
    this.logger.warn(
      `${String(wrapper.name ?? type.name)} is ${kind}: its @Locked method${methods.length === 1 ? '' : 's'} ` +
        `${methods.join(', ')} will reject when called. @Locked works on singleton providers only; make it one, ` +
        'or inject LockService and call withLock in the method',
    );
  }
}

/** The class of a wrapper's instances: that of its instance, else its metatype unless it is a factory. */
function classOf(wrapper: InstanceWrapper): Function | undefined { // eslint-disable-line @typescript-eslint/no-unsafe-function-type
  const instance: unknown = wrapper.instance;
  if (instance && typeof instance === 'object') return instance.constructor;
  return wrapper.inject ? undefined : (wrapper.metatype ?? undefined);
}

/** Names of the @Locked methods along a class's prototype chain. */
function lockedMethods(type: Function): string[] { // eslint-disable-line @typescript-eslint/no-unsafe-function-type
  const names = new Set<string>();
  for (let proto = type.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = Object.getOwnPropertyDescriptor(proto, key)?.value;
      if (typeof value === 'function' && Reflect.getMetadata(LOCKED_METADATA, value)) names.add(key);
    }
  }
  return [...names];
}
