/**
 * The reliability suite (test/faults, issue #6): real ZooKeeper servers and separate app processes under
 * faults and load. One file at a time, so that scenarios do not distort each other's figures; each writes
 * its figures to reports/fault-figures.json, which scripts/fault-figures.js prints as a table.
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/faults/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/faults/support/global-setup.ts',
  testTimeout: 180_000,
  maxWorkers: 1,
};
