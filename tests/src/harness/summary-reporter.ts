import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints the run's outcome as one plain line, `N passed, N failed[, N skipped]`, after vitest's own
 * report, so that whatever reads the log (CI) finds a closing line it understands.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') {
          passed++;
        } else if (state === 'failed') {
          failed++;
        } else {
          skipped++;
        }
      }
      // A file that failed to load has no tests, but it did fail.
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) {
        failed++;
      }
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  }
}
