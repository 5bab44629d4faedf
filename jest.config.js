/** Tests run against a real ZooKeeper started by test/support/global-setup.ts. */
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  // The sample app's unit tests sit next to its sources, as in a Nest app of your own.
  testMatch: ['<rootDir>/test/**/*.spec.ts', '<rootDir>/sample-app/src/**/*.spec.ts'],
  // The reliability suite has its own config (jest.faults.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  // The package's two entries (package.json `exports`), mapped to their sources.
  moduleNameMapper: {
    '^nestjs-zookeeper-lock$': '<rootDir>/lib/index.ts',
    '^nestjs-zookeeper-lock/testing$': '<rootDir>/lib/testing/index.ts',
  },
  setupFiles: ['<rootDir>/test/support/quiet-logs.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
