/**
 * An SSF receiver: accepts pushed SETs (RFC 8935) only when their signature verifies
 * against the transmitter's public key and their issuer, audience and type are right;
 * records each event once per `jti`.
 */
import { generateKeyPairSync } from 'node:crypto';
import express, { type Response } from 'express';
import { importSPKI, jwtVerify } from 'jose';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxOptions } from '../sandbox/kit.ts';
import { CAEP_SANDBOX_ISSUER, CAEP_SANDBOX_AUDIENCE, CAEP_SANDBOX_KID } from './sandbox-credentials.ts';

export { CAEP_SANDBOX_ISSUER, CAEP_SANDBOX_AUDIENCE, CAEP_SANDBOX_KID };

export interface ReceivedEvent {
  jti: string;
  claims: Record<string, unknown>;
}

export type CaepSandbox = RunningSandbox & { events: ReceivedEvent[]; privateKeyPem: string };

export async function startCaepSandbox(options: SandboxOptions & { port?: number } = {}): Promise<CaepSandbox> {
  // The transmitter's key pair: the sandbox hands the private half to sandboxConfig().
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const verifyKey = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256');
  const events: ReceivedEvent[] = [];
  const refuse = (res: Response, description: string) => void res.status(400).json({ err: 'invalid_request', description });
  const sandbox = createSandboxApp(
    {
      rateLimited: (res, retryAfterMs) =>
        void res
          .status(429)
          .set('Retry-After', String(Math.ceil(retryAfterMs / 1000)))
          .json({ err: 'rate_limited' }),
      serverError: (res) => void res.status(503).json({ err: 'unavailable' }),
      unauthorized: (res) => void res.status(401).end(),
      authorized: () => true,
    },
    options,
    (app, control) => {
      app.post('/events', express.text({ type: 'application/secevent+jwt' }), async (req, res) => {
        if (typeof req.body !== 'string' || !req.is('application/secevent+jwt')) return refuse(res, 'expected application/secevent+jwt');
        try {
          const { payload } = await jwtVerify(req.body, verifyKey, {
            issuer: CAEP_SANDBOX_ISSUER,
            audience: CAEP_SANDBOX_AUDIENCE,
            typ: 'secevent+jwt',
          });
          // jose types jti as a string but does not check it: a number still names the event;
          // anything else (an object, a boolean) names none and is refused as missing.
          const rawJti: unknown = payload.jti;
          const jti = typeof rawJti === 'string' || typeof rawJti === 'number' ? String(rawJti) : '';
          if (!jti) return refuse(res, 'missing jti');
          if (!control.lie() && !events.some((e) => e.jti === jti)) {
            events.push({ jti, claims: payload });
            control.countWrite('session-revoked', jti);
          }
          res.status(202).end();
        } catch {
          refuse(res, 'signature or claims did not verify');
        }
      });
    },
    (router) => {
      router.get('/events', (_req, res) => void res.json(events));
    },
  );
  const running = await listenSandbox(sandbox, { port: options.port });
  return Object.assign(running, { events, privateKeyPem });
}
