// Preload for profiling a child process where --cpu-prof is not allowed (NODE_OPTIONS):
//   NODE_OPTIONS="--import ./bench/lib/cpu-profile.mjs" CPU_PROFILE_DIR=/tmp/prof ...
// Writes <dir>/daemon-<pid>-<thread>.cpuprofile when the process exits; open it in Chrome
// DevTools. NODE_OPTIONS preloads this into worker threads too, hence the thread id; the
// attempt worker thread is terminated at shutdown before it can write, so in practice the
// file is the daemon's thread (-0).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(join(process.env.CPU_PROFILE_DIR ?? '.', `daemon-${process.pid}-${threadId}.cpuprofile`), JSON.stringify(result.profile));
  });
});
