/**
 * Child processes for tests and benchmarks that need real process boundaries: the
 * provider sandboxes (scripts/sandboxes.ts) and `deprovisiond serve` replicas. Every
 * child gets a pipe on stdin, so the sandboxes exit when the parent dies, and `stop()`
 * ends a child with SIGTERM, then SIGKILL if it does not exit in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SandboxInfo, SandboxKind } from '../../scripts/sandboxes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Child {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends `signal`, then SIGKILL after `killAfterMs` if it is still running. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | string>;
}

function track(child: ChildProcess): Child {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let done = false;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  return {
    child,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM', killAfterMs = 5_000) {
      if (done) return exited;
      child.kill(signal);
      const timer = setTimeout(() => {
        if (!done) child.kill('SIGKILL');
      }, killAfterMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Waits until `pattern` matches the child's output; fails if it exits or `timeoutMs` passes first. */
function waitForOutput(proc: Child, pattern: RegExp, what: string, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(proc.output());
      if (!match) return false;
      cleanup();
      resolve(match);
      return true;
    };
    const onData = () => void check();
    const onExit = () => {
      if (check()) return;
      cleanup();
      reject(new Error(`${what} exited before it was ready:\n${proc.output().slice(-4000)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} not ready after ${timeoutMs} ms:\n${proc.output().slice(-4000)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      proc.child.stdout?.off('data', onData);
      proc.child.stderr?.off('data', onData);
      proc.child.off('exit', onExit);
    };
    proc.child.stdout?.on('data', onData);
    proc.child.stderr?.on('data', onData);
    proc.child.once('exit', onExit);
    check();
  });
}

export interface SandboxProcess extends Child {
  sandboxes: Partial<Record<SandboxKind, SandboxInfo>>;
}

/** Starts scripts/sandboxes.ts in its own process and reads the URLs and settings it prints. */
export async function spawnSandboxes(args: string[] = [], timeoutMs = 30_000): Promise<SandboxProcess> {
  const proc = track(
    spawn(process.execPath, ['--import', 'tsx', 'scripts/sandboxes.ts', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  try {
    const [line] = await waitForOutput(proc, /^\{"sandboxes":.*\}$/m, 'sandboxes', timeoutMs);
    return { ...proc, sandboxes: (JSON.parse(line) as { sandboxes: SandboxProcess['sandboxes'] }).sandboxes };
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
}

export interface DaemonProcess extends Child {
  url: string;
  /** The engine's worker id (the `lease_owner` of the tasks it holds). */
  worker: string;
}

/** Starts `deprovisiond serve --config FILE` and waits for its "deprovisiond started" log line. */
export async function spawnDaemon(configFile: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<DaemonProcess> {
  const proc = track(
    spawn(process.execPath, ['bin/deprovisiond.js', 'serve', '--config', configFile], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    }),
  );
  try {
    const [line] = await waitForOutput(proc, /^.*"msg":"deprovisiond started".*$/m, `deprovisiond (${configFile})`, timeoutMs);
    const started = JSON.parse(line) as { url?: string; worker?: string };
    if (!started.url || !started.worker) throw new Error(`start line without url or worker: ${line}`);
    return { ...proc, url: started.url, worker: started.worker };
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
}
