/** Jest runs the TypeScript sources through ts-jest in ESM mode (see README, "Tests"). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: ['TS151001'] } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  setupFilesAfterEnv: ['<rootDir>/test/helpers/setup-redis.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
  // A worker that has run a dozen files holds 400-700 MiB (every file loads its own modules), and
  // tearing that heap down after its 'exit' event took 580-730 ms on a loaded 2-core machine:
  // past jest's 500 ms, so it was force-killed and reported as leaking, though it had no handle
  // left open. A real leak keeps a worker alive for good and is still reported after this.
  workerGracefulExitTimeout: 3000,
};
