// Jest runs the compiled tests (tsc -b builds them to dist/test), as native ES modules:
// the tests exercise exactly the JavaScript that production runs, and no second compiler is involved.
import type { Config } from 'jest';

const config: Config = {
  rootDir: '.',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  transform: {},
  testEnvironment: 'node',
  globalSetup: '<rootDir>/dist/test/support/global-setup.js',
  globalTeardown: '<rootDir>/dist/test/support/global-teardown.js',
  testTimeout: 60_000,
  maxWorkers: 2,
  verbose: false,
};

export default config;
