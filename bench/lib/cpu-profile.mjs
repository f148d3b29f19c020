// Preload for profiling a child process where --cpu-prof is not allowed (NODE_OPTIONS):
//   NODE_OPTIONS="--import ./bench/lib/cpu-profile.mjs" CPU_PROFILE_DIR=/tmp/prof ...
// Writes <dir>/daemon-<pid>-<thread>.cpuprofile when the process exits; open it in Chrome
// DevTools. NODE_OPTIONS preloads this into worker threads too, hence the thread id. The
// attempt worker thread is terminated at shutdown before it could write at exit, so a
// worker thread writes its file after CPU_PROFILE_WORKER_MS (e.g. 25000 for an intake run)
// when that is set, and never otherwise.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';

const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');
const write = () =>
  session.post('Profiler.stop', (error, result) => {
    if (!error)
      writeFileSync(
        join(process.env.CPU_PROFILE_DIR ?? '.', `daemon-${process.pid}-${threadId}.cpuprofile`),
        JSON.stringify(result.profile),
      );
  });
if (isMainThread) process.on('exit', write);
else if (process.env.CPU_PROFILE_WORKER_MS) setTimeout(write, Number(process.env.CPU_PROFILE_WORKER_MS)).unref();
