/**
 * Builds the Admin SDK clients, and the Gmail and Drive clients that act as one user. The
 * auth client is chosen here, by config: the service-account JWT with domain-wide
 * delegation in production, a static bearer token against the sandbox (the JWT flow would
 * fetch its token from Google's hard-coded URL).
 */
import { admin, auth, type admin_datatransfer_v1, type admin_directory_v1 } from '@googleapis/admin';
import { gmail, type gmail_v1 } from '@googleapis/gmail';
import { drive, type drive_v3 } from '@googleapis/drive';
import { DEFAULT_GOOGLE_SCOPES, GOOGLE_DRIVE_SCOPES, GOOGLE_GMAIL_SCOPES, type GoogleConfig } from './config.ts';

/** OAuth2Client from google-auth-library, reached through @googleapis/admin's re-export. */
export type GoogleAuthClient = InstanceType<typeof auth.OAuth2>;

export interface GoogleClients {
  directory: admin_directory_v1.Admin;
  transfer: admin_datatransfer_v1.Admin;
  /**
   * Gmail and Drive as the user `email` (a JWT whose subject is that user): their settings
   * and files are reachable only by acting as their owner, not as the admin.
   */
  asUser(email: string): GoogleUserClients;
}

export interface GoogleUserClients {
  gmail: gmail_v1.Gmail;
  drive: drive_v3.Drive;
}

/** Makes the auth client for calls made as `subject` with `scopes`. */
export type UserAuthFactory = (subject: string, scopes: readonly string[]) => GoogleAuthClient;

export function createAuthClient(config: GoogleConfig): GoogleAuthClient {
  if (config.accessToken !== undefined) {
    // No refresh token and no expiry: google-auth-library then never re-sends a request
    // after a 401/403 to "refresh" (it would resend a POST otherwise).
    const client = new auth.OAuth2();
    client.setCredentials({ access_token: config.accessToken });
    return client;
  }
  // `subject` is the domain-wide delegation: every call acts as this admin.
  return delegatedJwt(config, config.adminSubject, config.scopes ?? DEFAULT_GOOGLE_SCOPES);
}

/**
 * The auth client for calls made as one user (Gmail settings, Drive files): the same
 * service account, with the user as JWT subject and only the scopes of that API, so a
 * delegation without the Gmail or Drive scopes fails those actions only, never the admin
 * token. Against the sandbox, the static token.
 */
export function createUserAuthClient(config: GoogleConfig, subject: string, scopes: readonly string[]): GoogleAuthClient {
  if (config.accessToken !== undefined) return createAuthClient(config);
  return delegatedJwt(config, subject, scopes);
}

function delegatedJwt(config: GoogleConfig, subject: string, scopeList: readonly string[]): GoogleAuthClient {
  const key = config.serviceAccountKey;
  if (key === undefined) throw new Error('google: serviceAccountKey or accessToken is required');
  const scopes = [...scopeList];
  return typeof key === 'string'
    ? new auth.JWT({ keyFile: key, scopes, subject })
    : new auth.JWT({ email: key.client_email, key: key.private_key, scopes, subject });
}

/** Users whose clients are kept (each JWT caches its token for its hour). */
const USER_CLIENTS_KEPT = 100;

export function createClients(
  config: GoogleConfig,
  authClient: GoogleAuthClient,
  throttle: (signal?: AbortSignal) => Promise<void> = async () => undefined,
  userAuth: UserAuthFactory = (subject, scopes) => createUserAuthClient(config, subject, scopes),
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
  // A leaver's execute and verify each ask for their clients: kept per user (the oldest
  // dropped first), so the JWT's token is fetched once an hour, not once per attempt.
  const users = new Map<string, GoogleUserClients>();
  const asUser = (email: string): GoogleUserClients => {
    const key = email.toLowerCase();
    const kept = users.get(key);
    if (kept) return kept;
    const made: GoogleUserClients = {
      gmail: gmail({ version: 'v1', ...options, auth: userAuth(email, GOOGLE_GMAIL_SCOPES) }),
      drive: drive({ version: 'v3', ...options, auth: userAuth(email, GOOGLE_DRIVE_SCOPES) }),
    };
    if (users.size >= USER_CLIENTS_KEPT) users.delete(users.keys().next().value!);
    users.set(key, made);
    return made;
  };
  return {
    directory: admin({ version: 'directory_v1', ...options }),
    transfer: admin({ version: 'datatransfer_v1', ...options }),
    asUser,
  };
}
