// The queue benchmark's peers: graphile-worker and pg-boss processing N no-op jobs with W
// concurrent workers against the benchmark's PostgreSQL. Run by bench/queue.sh with the
// bench-local Node 22 (bench/.peers):
//   node peers.mjs graphile|pgboss default|fast W N CONNSTRING
// Enqueues N jobs in one statement, starts the workers, and prints one line of JSON:
// {"jobs": N, "seconds": S} where S runs from starting the workers until the queue table is
// empty of unfinished jobs (every completion committed).
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.PEERS_DIR, 'package.json'));
const pg = require('pg');

const [system, mode, workersArg, jobsArg, conn] = process.argv.slice(2);
const W = Number(workersArg);
const N = Number(jobsArg);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(client, sql) {
  for (;;) {
    const { rows } = await client.query(sql);
    if (Number(rows[0].n) === 0) return;
    await sleep(20);
  }
}

async function graphile() {
  const { run, runMigrations } = require('graphile-worker');
  await runMigrations({ connectionString: conn });
  const admin = new pg.Client({ connectionString: conn });
  await admin.connect();
  await admin.query('delete from graphile_worker._private_jobs');
  await admin.query(
    `select graphile_worker.add_jobs(array(select row('noop', '{}'::json, null, null, null, null, null, null)
       ::graphile_worker.job_spec from generate_series(1, $1)))`, [N]);
  // default: one fetch and one completion per job. fast: the documented batching (a local
  // queue that fetches many jobs at once, completions batched).
  const preset = mode === 'fast'
    ? { worker: { localQueue: { size: Math.max(50, W + 1) }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }
    : {};
  const started = process.hrtime.bigint();
  const runner = await run({
    connectionString: conn, concurrency: W, maxPoolSize: W + 2, noHandleSignals: true,
    pollInterval: 1000, taskList: { noop: async () => {} }, preset,
    logger: new (require('graphile-worker').Logger)(() => () => {}),
  });
  await waitUntil(admin, 'select count(*) n from graphile_worker._private_jobs');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await runner.stop();
  await admin.end();
  return seconds;
}

async function pgboss() {
  const { PgBoss } = require('pg-boss');
  const admin = new pg.Client({ connectionString: conn });
  await admin.connect();
  const setup = new PgBoss({ connectionString: conn, supervise: false, schedule: false });
  await setup.start();
  await setup.deleteQueue('noop').catch(() => {});
  await setup.createQueue('noop');
  for (let done = 0; done < N; done += 5000) {
    await setup.insert('noop', Array.from({ length: Math.min(5000, N - done) }, () => ({ data: {} })));
  }
  await setup.stop({ graceful: false, wait: true });
  // The backlog count the supervisor would write on its first stats pass, so burst mode
  // engages from the first fetch (the worker instance reads it when it starts).
  await admin.query(`update pgboss.queue set ready_count = $1, queued_count = $1 where name = 'noop'`, [N]);
  const boss = new PgBoss({ connectionString: conn, max: W + 2, supervise: false, schedule: false });
  boss.on('error', (e) => console.error('pg-boss:', e.message));
  // default: one job per fetch, fetching back to back while a backlog exists (without the
  // burst setting the 2 s poll idles between jobs). fast: the documented batch fetch of 50
  // jobs, completed together, fetching again at once while batches come back full.
  const options = mode === 'fast'
    ? { batchSize: 50, burstWhenBatchFull: true, localConcurrency: W, pollingIntervalSeconds: 0.5 }
    : { batchSize: 1, burstWhenReadyExceeds: 1, localConcurrency: W, pollingIntervalSeconds: 0.5 };
  const started = process.hrtime.bigint();
  await boss.start();
  await boss.work('noop', options, async () => {});
  await waitUntil(admin, `select count(*) n from pgboss.job where name = 'noop' and state < 'completed'`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await boss.stop({ graceful: false, wait: true });
  await admin.end();
  return seconds;
}

const seconds = system === 'graphile' ? await graphile() : await pgboss();
console.log(JSON.stringify({ jobs: N, seconds }));
process.exit(0);
