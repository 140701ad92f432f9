// One plain-JavaScript worker on the project's own task queue: the package's workflows and LLM
// and tool activities (AgentsPlugin, configured from the environment: ANTHROPIC_API_KEY or
// ANTHROPIC_BASE_URL, LLM_*, …) beside the project's own workflow and activity.
const { NativeConnection, Worker } = require('@temporalio/worker');
const { AgentsPlugin } = require('durable-agents/worker');
const myActivities = require('./dist/activities');

async function main() {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const worker = await Worker.create({
    connection,
    taskQueue: process.env.TASK_QUEUE ?? 'my-app',
    workflowsPath: require.resolve('./src/workflows.ts'),
    activities: myActivities,
    plugins: [new AgentsPlugin()],
  });
  console.log(`worker ready on ${worker.options.taskQueue}`);
  await worker.run();
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
