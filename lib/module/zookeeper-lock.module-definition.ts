import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ZookeeperLockModuleOptions } from './zookeeper-lock-options.interface';

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<ZookeeperLockModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();

/** Injection token of the module options (as given, before defaults are applied). */
export const ZOOKEEPER_LOCK_OPTIONS = MODULE_OPTIONS_TOKEN;
