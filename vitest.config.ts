import { defineConfig } from 'vitest/config';

// One runner for every workspace. "unit" tests sit beside the code (src/**/*.spec.ts) and need
// nothing running; "integration" tests start real Redis / llama-server processes through the
// harness in tests/src/harness and run one file at a time (2-core machines, real child processes).
// The unit group runs first and alone: its parallel workers would otherwise take the CPU that the
// integration tests' real services need (a gateway restart test once took 60 s instead of 3 s).
const resolve = { conditions: ['development'] };

export default defineConfig({
  resolve,
  test: {
    reporters: ['default', './tests/src/harness/summary-reporter.ts'],
    projects: [
      {
        resolve,
        test: {
          name: 'unit',
          include: ['shared/src/**/*.spec.ts', 'services/*/src/**/*.spec.ts', 'tests/src/**/*.spec.ts'],
          environment: 'node',
          sequence: { groupOrder: 0 },
        },
      },
      {
        resolve,
        test: {
          name: 'integration',
          include: ['services/*/test/**/*.test.ts', 'tests/integration/**/*.test.ts', 'tests/browser/**/*.test.ts', 'tests/faults/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
          globalSetup: ['tests/src/harness/global-setup.ts'],
        },
      },
    ],
  },
});
