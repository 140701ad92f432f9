/**
 * Writes jest's aggregated results (the same numbers `jest --json` reports) to
 * .tmp/jest-summary.json, so .ci/run can print one plain `N passed, N failed` line.
 */
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const dir = path.join(__dirname, '..', '..', '.tmp');
    fs.mkdirSync(dir, { recursive: true });
    const failedSuites = results.testResults.filter((s) => s.testExecError || s.failureMessage).map((s) => path.relative(process.cwd(), s.testFilePath));
    fs.writeFileSync(
      path.join(dir, 'jest-summary.json'),
      JSON.stringify({
        passed: results.numPassedTests,
        failed: results.numFailedTests,
        skipped: results.numPendingTests + results.numTodoTests,
        failedSuites: results.numFailedTestSuites,
        runtimeErrorSuites: results.numRuntimeErrorTestSuites,
        failedSuiteFiles: failedSuites,
        success: results.success,
      }),
    );
  }
}
module.exports = SummaryReporter;
