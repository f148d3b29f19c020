/**
 * The sandbox kit: what every provider emulator shares. An emulator is an express app
 * that speaks the provider's real wire format; the kit adds the request log, write
 * counters, fault injection (latency, rate limits in the provider's style, 5xx,
 * timeouts, lying writes) and a control API under `/__sandbox` so tests and benchmarks
 * can drive an emulator running in another process.
 */
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response, type NextFunction } from 'express';
import { faultConfigSchema, seededRandom, WindowLimiter, type FaultConfig, type FaultConfigInput } from './faults.ts';

export interface RequestLogEntry {
  method: string;
  path: string;
  /** Epoch ms when the request arrived and when it was answered. */
  startedAt: number;
  finishedAt: number;
  status: number;
  /**
   * What fault, if any, answered this request instead of the emulator. `lost_answer`: the
   * emulator handled the request (a write took effect) but its answer was dropped.
   */
  fault: 'rate_limited' | 'error' | 'timeout' | 'lost_answer' | null;
}

/** Requests whose answers are to be lost: matched on method and path, each used `remaining` times. */
interface LostAnswerRule {
  method: string;
  path: RegExp;
  remaining: number;
}

export interface WriteLogEntry {
  operation: string;
  accountId: string;
  /** Epoch ms when the emulator applied the write. */
  at: number;
}

export interface SandboxStyle {
  /** Answers a request over the limit the way the provider does (429, or Google's 403). */
  rateLimited(res: Response, retryAfterMs: number): void;
  /** Answers an injected server error the way the provider does. */
  serverError(res: Response): void;
  /** Answers a request with a missing or wrong credential. */
  unauthorized(res: Response): void;
  /** True when the request carries the sandbox's credential. */
  authorized(req: Request): boolean;
}

export interface SandboxOptions {
  faults?: FaultConfigInput;
  /** Every lookup of an unknown subject creates an active account for it. Default false. */
  autoProvision?: boolean;
}

/** Shared state of one emulator: faults, request log, write counters. */
export class SandboxControl {
  faults: FaultConfig;
  autoProvision: boolean;
  readonly requests: RequestLogEntry[] = [];
  /** Effective writes, keyed `operation:accountId`: proves an action ran once. */
  readonly writes = new Map<string, number>();
  /** The same writes in order, with the time each was applied: tells a repeat after a task settled from one before. */
  readonly writeLog: WriteLogEntry[] = [];
  private random: () => number;
  private limiter: WindowLimiter | null;
  private lostAnswers: LostAnswerRule[] = [];

  constructor(options: SandboxOptions = {}) {
    this.faults = faultConfigSchema.parse(options.faults ?? {});
    this.autoProvision = options.autoProvision ?? false;
    this.random = seededRandom(this.faults.seed);
    this.limiter = this.faults.rateLimitPerSecond ? new WindowLimiter(this.faults.rateLimitPerSecond) : null;
  }

  setFaults(input: FaultConfigInput): void {
    this.faults = faultConfigSchema.parse(input);
    this.random = seededRandom(this.faults.seed);
    this.limiter = this.faults.rateLimitPerSecond ? new WindowLimiter(this.faults.rateLimitPerSecond) : null;
  }

  /** Emulators ask this before applying a write: true means answer 2xx and change nothing. */
  lie(): boolean {
    return this.faults.lyingRate > 0 && this.random() < this.faults.lyingRate;
  }

  /**
   * The next `count` requests with this method whose path matches are handled as usual (a
   * write takes effect) and then the connection is dropped instead of answering: the client
   * sees a network error and cannot tell whether its write went through. Tests of
   * read-first writes use it to play the retry after a lost answer.
   */
  loseAnswers(method: string, path: RegExp, count = 1): void {
    this.lostAnswers.push({ method: method.toUpperCase(), path, remaining: count });
  }

  /** True (and one use spent) when this request's answer is to be lost. */
  takeLostAnswer(method: string, path: string): boolean {
    const rule = this.lostAnswers.find((r) => r.method === method && r.path.test(path));
    if (!rule) return false;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.lostAnswers = this.lostAnswers.filter((r) => r !== rule);
    return true;
  }

  /** Requests logged with this method and a matching path, from index `since` of the log on. */
  countRequests(method: string, path: RegExp, since = 0): number {
    const upper = method.toUpperCase();
    return this.requests.slice(since).filter((r) => r.method === upper && path.test(r.path)).length;
  }

  countWrite(operation: string, accountId: string): void {
    const key = `${operation}:${accountId}`;
    this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
    this.writeLog.push({ operation, accountId, at: Date.now() });
  }

  /** Decides the fault for one request, or null to let the emulator answer. */
  drawFault(nowMs: number): { kind: 'rate_limited'; retryAfterMs: number } | { kind: 'error' | 'timeout' } | null {
    const resetAt = this.limiter?.take(nowMs) ?? null;
    if (resetAt !== null) return { kind: 'rate_limited', retryAfterMs: resetAt - nowMs };
    const f = this.faults;
    if (f.rateLimitRate > 0 && this.random() < f.rateLimitRate) {
      return { kind: 'rate_limited', retryAfterMs: f.rateLimitRetryAfterMs };
    }
    if (f.errorRate > 0 && this.random() < f.errorRate) return { kind: 'error' };
    if (f.timeoutRate > 0 && this.random() < f.timeoutRate) return { kind: 'timeout' };
    return null;
  }

  snapshot(): { requests: number; writes: Record<string, number>; faults: FaultConfig } {
    return { requests: this.requests.length, writes: Object.fromEntries(this.writes), faults: this.faults };
  }

  reset(): void {
    this.requests.length = 0;
    this.writes.clear();
    this.lostAnswers = [];
    this.writeLog.length = 0;
  }
}

export interface SandboxApp {
  app: express.Express;
  control: SandboxControl;
}

/**
 * The origin a client reached the sandbox at, for the absolute links its answers carry.
 * HTTP/1.1 requires a Host header; only a hand-made HTTP/1.0 request lacks one, and its
 * links then name localhost rather than "undefined".
 */
export function requestOrigin(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/**
 * Builds the express app of an emulator: control API first (no credential: it listens
 * on loopback only), then the request log, credential check and fault injection, then
 * the emulator's own routes, registered by `routes`.
 */
export function createSandboxApp(
  style: SandboxStyle,
  options: SandboxOptions,
  routes: (app: express.Express, control: SandboxControl) => void,
  extraControl?: (router: express.Router, control: SandboxControl) => void,
): SandboxApp {
  const control = new SandboxControl(options);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] }));

  const controlRouter = express.Router();
  controlRouter.get('/state', (_req, res) => {
    res.json(control.snapshot());
  });
  controlRouter.get('/requests', (_req, res) => {
    res.json(control.requests);
  });
  controlRouter.get('/writes', (_req, res) => {
    res.json(control.writeLog);
  });
  controlRouter.post('/faults', (req, res) => {
    const parsed = faultConfigSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: parsed.error.message });
      return;
    }
    control.setFaults(parsed.data);
    res.json(control.faults);
  });
  controlRouter.post('/auto-provision', (req, res) => {
    control.autoProvision = Boolean((req.body as { enabled?: unknown } | undefined)?.enabled);
    res.json({ autoProvision: control.autoProvision });
  });
  controlRouter.post('/reset', (_req, res) => {
    control.reset();
    res.status(204).end();
  });
  extraControl?.(controlRouter, control);
  app.use('/__sandbox', controlRouter);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const entry: RequestLogEntry = {
      method: req.method,
      path: req.path,
      startedAt: Date.now(),
      finishedAt: 0,
      status: 0,
      fault: null,
    };
    control.requests.push(entry);
    res.on('finish', () => {
      entry.finishedAt = Date.now();
      entry.status = res.statusCode;
    });
    res.on('close', () => {
      if (!entry.finishedAt) entry.finishedAt = Date.now();
    });
    const proceed = () => {
      if (!style.authorized(req)) {
        style.unauthorized(res);
        return;
      }
      const fault = control.drawFault(Date.now());
      entry.fault = fault?.kind ?? null;
      if (!fault && control.takeLostAnswer(req.method, req.path)) {
        entry.fault = 'lost_answer';
        // The emulator runs (its write takes effect); whatever it answers, the socket closes first.
        res.end = (() => {
          req.socket.destroy();
          return res;
        }) as typeof res.end;
      }
      if (!fault) return next();
      if (fault.kind === 'rate_limited') return style.rateLimited(res, fault.retryAfterMs);
      if (fault.kind === 'error') return style.serverError(res);
      // A timeout: hold the request, then drop the connection without an answer.
      setTimeout(() => req.socket.destroy(), 30_000).unref();
    };
    const latency = control.faults.latencyMs;
    if (latency > 0) setTimeout(proceed, latency);
    else proceed();
  });

  routes(app, control);
  return { app, control };
}

export interface RunningSandbox {
  url: string;
  control: SandboxControl;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (a random port unless given), over https when a key pair is given. */
export async function listenSandbox(
  sandbox: SandboxApp,
  options: { port?: number; tls?: { key: string; cert: string } } = {},
): Promise<RunningSandbox> {
  const server = options.tls ? https.createServer(options.tls, sandbox.app) : http.createServer(sandbox.app);
  server.keepAliveTimeout = 65_000;
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const scheme = options.tls ? 'https' : 'http';
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    control: sandbox.control,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
