/**
 * Builds the Admin SDK clients. The auth client is chosen here, by config: the
 * service-account JWT with domain-wide delegation in production, a static bearer token
 * against the sandbox (the JWT flow would fetch its token from Google's hard-coded URL).
 */
import { admin, auth, type admin_datatransfer_v1, type admin_directory_v1 } from '@googleapis/admin';
import { DEFAULT_GOOGLE_SCOPES, type GoogleConfig } from './config.ts';

/** OAuth2Client from google-auth-library, reached through @googleapis/admin's re-export. */
export type GoogleAuthClient = InstanceType<typeof auth.OAuth2>;

export interface GoogleClients {
  directory: admin_directory_v1.Admin;
  transfer: admin_datatransfer_v1.Admin;
}

export function createAuthClient(config: GoogleConfig): GoogleAuthClient {
  if (config.accessToken !== undefined) {
    // No refresh token and no expiry: google-auth-library then never re-sends a request
    // after a 401/403 to "refresh" (it would resend a POST otherwise).
    const client = new auth.OAuth2();
    client.setCredentials({ access_token: config.accessToken });
    return client;
  }
  const key = config.serviceAccountKey;
  if (key === undefined) throw new Error('google: serviceAccountKey or accessToken is required');
  const scopes = [...(config.scopes ?? DEFAULT_GOOGLE_SCOPES)];
  // `subject` is the domain-wide delegation: every call acts as this admin.
  return typeof key === 'string'
    ? new auth.JWT({ keyFile: key, scopes, subject: config.adminSubject })
    : new auth.JWT({ email: key.client_email, key: key.private_key, scopes, subject: config.adminSubject });
}

export function createClients(
  config: GoogleConfig,
  authClient: GoogleAuthClient,
  throttle: (signal?: AbortSignal) => Promise<void> = async () => undefined,
): GoogleClients {
  const options = {
    // Every request waits for the provider's request rate limit first (gaxios' adapter hook).
    // Generic in the request: gaxios' own request object is handed back to it untouched.
    adapter: async <T, Options extends { signal?: unknown }>(request: Options, send: (request: Options) => Promise<T>): Promise<T> => {
      await throttle(request.signal instanceof AbortSignal ? request.signal : undefined);
      return send(request);
    },
    auth: authClient,
    ...(config.rootUrl !== undefined ? { rootUrl: config.rootUrl } : {}),
    timeout: config.timeoutMs,
    // The engine owns retries. googleapis-common turns gaxios retries on by default
    // (GET/PUT/DELETE on 429/5xx and twice on network errors); both switches go off so
    // a rate limit or an outage reaches the engine after exactly one request.
    retry: false,
    retryConfig: { retry: 0, noResponseRetries: 0 },
  };
  return {
    directory: admin({ version: 'directory_v1', ...options }),
    transfer: admin({ version: 'datatransfer_v1', ...options }),
  };
}
