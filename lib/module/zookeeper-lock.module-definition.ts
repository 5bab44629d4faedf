import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ZookeeperLockModuleOptions } from './zookeeper-lock-options.interface';

/**
 * `moduleName` gives the options token a readable name (`ZOOKEEPER_LOCK_MODULE_OPTIONS`, in DI errors and
 * devtools); `useClass`/`useExisting` classes implement ZookeeperLockOptionsFactory.
 *
 * Global by default: the point of the module is one ZooKeeper session per application, and @WithLock's
 * interceptor, @Locked and the health indicator need its providers in every module that uses them.
 * `isGlobal: false` keeps it local (then import it, or a module re-exporting it, where it is used).
 */
export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<ZookeeperLockModuleOptions>({ moduleName: 'ZookeeperLock' })
    .setClassMethodName('forRoot')
    .setFactoryMethodName('createZookeeperLockOptions')
    .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();

/** Injection token of the module options (as given, before defaults are applied). */
export const ZOOKEEPER_LOCK_OPTIONS = MODULE_OPTIONS_TOKEN;

/** What `ZookeeperLockModule.forRoot` takes: the options, plus `isGlobal` (default true). */
export type ZookeeperLockModuleForRootOptions = typeof OPTIONS_TYPE;
/** What `ZookeeperLockModule.forRootAsync` takes: `useFactory`/`useClass`/`useExisting`, `inject`, `imports`, `isGlobal`. */
export type ZookeeperLockModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
