// A worker thread starts without the tsx loader the daemon's thread registered (bin/deprovisiond.js).
import { register } from 'tsx/esm/api';

register();
await import('./attempt-worker.ts');
