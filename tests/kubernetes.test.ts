/**
 * deploy/kubernetes agrees with itself, with the image and with the daemon: the ConfigMap
 * is a valid config once the Deployment's environment is set (and names nothing the
 * Deployment does not set), ports and probe paths line up and are served by the app,
 * the pod runs as the image's non-root user on a read-only root with /tmp writable, the
 * grace period covers the drain, and the PodDisruptionBudget and Service select the pods.
 */
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { providerModules } from '../providers/index.ts';
import { parseConfig } from '../src/config/load.ts';
import { checkConfig } from '../src/cli/local/config-check.ts';
import type { Config } from '../src/config/schema.ts';
import { createApp } from '../src/server/app.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { execForm, parseDockerfile } from './helpers/dockerfile.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = join(ROOT, 'deploy/kubernetes');

/** Kubernetes objects are read as plain YAML. */
type K8s = Record<string, any>;

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const objects: Array<K8s & { file: string }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8s | null;
    })
    .filter((o): o is K8s => o !== null)
    .map((o) => ({ ...o, file })),
);
const one = (kind: string): K8s => {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in deploy/kubernetes, found ${found.length}`);
  return found[0]!;
};

const deployment = one('Deployment');
const service = one('Service');
const pdb = one('PodDisruptionBudget');
const configMap = one('ConfigMap');
const pod = deployment.spec.template.spec as K8s;
const container = (pod.containers as K8s[]).find((c) => c.name === 'deprovisiond')!;
const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;

const image = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).stages.at(-1)!;
const imageCmd = execForm(image.instructions.filter((i) => i.keyword === 'CMD').at(-1)!.args);
const imageUser = image.instructions.filter((i) => i.keyword === 'USER').at(-1)!.args;

/** Stand-ins for what the Secret holds, shaped so the schemas accept them. */
function fakeSecret(name: string): string {
  if (name === 'DATABASE_URL') return 'postgres://deprovisiond@db:5432/deprovisiond';
  if (name === 'WEBHOOK_SECRET') return 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=';
  if (name === 'DEPROVISIOND_MASTER_KEY') return Buffer.alloc(32, 7).toString('base64');
  return `fake-${name.toLowerCase()}-0123456789abcdef`;
}

/** The container's environment as the daemon would see it: literal values, and stand-ins for Secret references. */
function containerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of (container.env ?? []) as K8s[]) {
    if (typeof entry.value === 'string') env[entry.name] = entry.value;
    else if (entry.valueFrom?.secretKeyRef) env[entry.name] = fakeSecret(entry.name);
    else throw new Error(`env ${entry.name}: expected value or secretKeyRef`);
  }
  return env;
}

/** The container port a probe or Service names (by name or number). */
function containerPort(port: string | number): number | undefined {
  const ports = container.ports as Array<{ name?: string; containerPort: number }>;
  return typeof port === 'number'
    ? ports.find((p) => p.containerPort === port)?.containerPort
    : ports.find((p) => p.name === port)?.containerPort;
}

const configText = configMap.data['config.yaml'] as string;
const config: Config = parseConfig(configText, 'deploy/kubernetes/configmap.yaml', containerEnv());

describe('deploy/kubernetes', () => {
  it('kustomization.yaml lists every manifest, and nothing else', () => {
    const kustomization = one('Kustomization');
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });

  it('holds no Secret values: secrets are references to Secrets created outside', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const refs = ((container.env ?? []) as K8s[]).filter((e) => e.valueFrom?.secretKeyRef);
    expect(refs.map((e) => e.name)).toEqual(expect.arrayContaining(['DATABASE_URL', 'ADMIN_TOKEN', 'SCIM_TOKEN', 'WEBHOOK_SECRET']));
    // No literal value looks like a credential.
    for (const entry of ((container.env ?? []) as K8s[]).filter((e) => e.value !== undefined)) {
      expect(entry.name, 'a secret given as a literal value').not.toMatch(/TOKEN|SECRET|PASSWORD|KEY|DATABASE_URL/);
    }
  });

  it('the ConfigMap is a valid config with the Deployment’s environment, down to each provider’s settings', async () => {
    expect(config.store).toHaveProperty('postgres');
    expect(configText).toContain('${DATABASE_URL}');
    await checkConfig(config, 'deploy/kubernetes/configmap.yaml', providerModules);
  });

  it('every ${VAR} the ConfigMap needs is set by the Deployment (the config loader names any that is not)', () => {
    const needed = [...configText.matchAll(/\$\{([A-Za-z_]\w*)\}/g)].map((m) => m[1]!);
    const set = Object.keys(containerEnv());
    expect(needed.length).toBeGreaterThan(0);
    for (const name of needed) expect(set, `\${${name}} in the ConfigMap`).toContain(name);
    // The same check through the loader itself: drop one variable and it fails naming it.
    const { ADMIN_TOKEN: _dropped, ...withoutOne } = containerEnv();
    expect(() => parseConfig(configText, 'configmap.yaml', withoutOne)).toThrow(/environment variable ADMIN_TOKEN is not set/);
  });

  it('every Secret reference is documented in the kubectl command of docs/operations.md', () => {
    const docs = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
    for (const entry of ((container.env ?? []) as K8s[]).filter((e) => e.valueFrom?.secretKeyRef)) {
      const { name, key } = entry.valueFrom.secretKeyRef as { name: string; key: string };
      expect(docs, `kubectl create secret generic ${name} … --from-literal=${key}=`).toMatch(
        new RegExp(`kubectl create secret generic ${name}\\b[^\`]*--from-literal=${key}=`),
      );
    }
    for (const volume of (pod.volumes as K8s[]).filter((v) => v.secret))
      expect(docs).toContain(`kubectl create secret generic ${volume.secret.secretName}`);
  });

  it('runs two replicas on PostgreSQL, never SQLite', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(Object.keys(config.store)).toEqual(['postgres']);
  });

  it('ports line up: config, container, probes, Service, scrape annotation', () => {
    expect(config.server.host).toBe('0.0.0.0');
    const http = containerPort('http');
    expect(http).toBe(config.server.port);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
      expect(containerPort(container[probe].httpGet.port), probe).toBe(config.server.port);
    const servicePort = (service.spec.ports as K8s[]).find((p) => p.name === 'http')!;
    expect(containerPort(servicePort.targetPort)).toBe(config.server.port);
    const annotations = deployment.spec.template.metadata.annotations as Record<string, string>;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(Number(annotations['prometheus.io/port'])).toBe(config.server.port);
    expect(annotations['prometheus.io/path']).toBe('/metrics');
  });

  it('the Service and the PodDisruptionBudget select the pods; at least one stays up', () => {
    expect(deployment.spec.selector.matchLabels).toEqual(podLabels);
    for (const [key, value] of Object.entries(service.spec.selector as Record<string, string>))
      expect(podLabels[key], `Service selector ${key}`).toBe(value);
    for (const [key, value] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>))
      expect(podLabels[key], `PDB selector ${key}`).toBe(value);
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
  });

  it('the grace period covers the preStop pause and the engine’s drain', () => {
    const preStop = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
    const pause = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(pause + config.engine.shutdownGrace / 1000);
  });

  it('runs as the image’s non-root user, read-only, with /tmp writable and nothing else added', () => {
    const [uid, gid] = imageUser.split(':').map(Number);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBe(uid);
    expect(pod.securityContext.runAsGroup).toBe(gid ?? uid);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const mounts = container.volumeMounts as Array<{ name: string; mountPath: string; readOnly?: boolean }>;
    const tmp = mounts.find((m) => m.mountPath === '/tmp');
    expect(tmp, '/tmp mount').toBeDefined();
    expect((pod.volumes as K8s[]).find((v) => v.name === tmp!.name)?.emptyDir).toBeDefined();
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toEqual(expect.any(String));
  });

  it('mounts the ConfigMap where the image’s command reads its config, and the Google key where the config points', () => {
    expect(container.command).toBeUndefined();
    const args = (container.args as string[] | undefined) ?? imageCmd;
    const configFile = args[args.indexOf('--config') + 1]!;
    const mount = (container.volumeMounts as Array<{ name: string; mountPath: string }>).find(
      (m) => m.mountPath === posix.dirname(configFile),
    )!;
    expect(mount, `a mount at ${posix.dirname(configFile)}`).toBeDefined();
    const volume = (pod.volumes as K8s[]).find((v) => v.name === mount.name)!;
    expect(volume.configMap.name).toBe(configMap.metadata.name);
    const item = (volume.configMap.items as Array<{ key: string; path: string }>).find((i) => i.path === posix.basename(configFile));
    expect(item?.key, `${configFile} comes from the ConfigMap`).toBe('config.yaml');

    const keyFile = (config.providers.google as { serviceAccountKey?: unknown } | undefined)?.serviceAccountKey;
    if (typeof keyFile === 'string') {
      const keyMount = (container.volumeMounts as Array<{ name: string; mountPath: string }>).find(
        (m) => m.mountPath === posix.dirname(keyFile),
      );
      expect(keyMount, `a mount for ${keyFile}`).toBeDefined();
      const keyVolume = (pod.volumes as K8s[]).find((v) => v.name === keyMount!.name)!;
      expect((keyVolume.secret.items as Array<{ path: string }>).map((i) => i.path)).toContain(posix.basename(keyFile));
    }
  });

  describe('probe paths, against the daemon’s HTTP app', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = createApp({ config, logger: silentLogger(), metrics: new Registry(), ready: () => true }).listen(0, '127.0.0.1');
      await once(server, 'listening');
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise<void>((done) => server.close(() => done()));
    });

    it('answers every probe path with 200, and the scrape path wants the viewer token', async () => {
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const path = container[probe].httpGet.path as string;
        expect((await fetch(`${base}${path}`)).status, `${probe} ${path}`).toBe(200);
      }
      const annotations = deployment.spec.template.metadata.annotations as Record<string, string>;
      expect(config.auth.publicMetrics).toBe(false);
      expect((await fetch(`${base}${annotations['prometheus.io/path']}`)).status).toBe(401);
      const viewer = config.auth.admin.find((a) => a.role === 'viewer')!;
      expect(
        (await fetch(`${base}${annotations['prometheus.io/path']}`, { headers: { authorization: `Bearer ${viewer.token}` } })).status,
      ).toBe(200);
    });

    it('the readiness probe is /readyz (503 while draining), liveness /healthz', () => {
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    });
  });
});
