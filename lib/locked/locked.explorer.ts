import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { LockService } from '../lock/lock.service';
import { LOCKED_CLASS_METADATA, LOCKED_LOCK_SERVICE } from './locked.constants';

/**
 * Hands the LockService to every singleton provider (and controller) whose class has @Locked methods.
 * Runs at module init, before any application bootstrap hook (such as a scheduler starting its jobs).
 */
@Injectable()
export class LockedMethodsExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly locks: LockService,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      if (!Reflect.getMetadata(LOCKED_CLASS_METADATA, instance.constructor)) continue;
      // First module wins: an application normally has one LockService.
      const target = instance as Record<symbol, unknown>;
      if (!target[LOCKED_LOCK_SERVICE]) {
        Object.defineProperty(target, LOCKED_LOCK_SERVICE, { value: this.locks, enumerable: false });
      }
    }
  }
}
