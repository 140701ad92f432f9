/** What a promise rejected with, so a test can assert its class and fields; fails the test when it resolves. */
export async function rejectionOf<T = unknown>(p: Promise<unknown>): Promise<T> {
  try {
    await p;
  } catch (err) {
    return err as T;
  }
  throw new Error('expected a failure');
}
