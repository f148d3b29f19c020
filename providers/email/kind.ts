/**
 * The `email` provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the adapter
 * and nodemailer are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { emailConfigSchema, type EmailConfig } from './config.ts';
import { EMAIL_SANDBOX_ACCOUNT_OWNER, EMAIL_SANDBOX_FROM, EMAIL_SANDBOX_PASSWORD, EMAIL_SANDBOX_USER } from './sandbox-credentials.ts';
import type { EmailSandbox } from './sandbox.ts';

export const emailKind: ProviderKind<EmailConfig> = {
  kind: 'email',
  configSchema: emailConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startEmailSandbox(options),
  sandboxConfig: (sandbox) =>
    emailConfigSchema.parse({
      smtp: {
        host: '127.0.0.1',
        port: (sandbox as EmailSandbox).smtpPort,
        auth: { user: EMAIL_SANDBOX_USER, pass: EMAIL_SANDBOX_PASSWORD },
      },
      from: EMAIL_SANDBOX_FROM,
      fromName: 'Offboarding (sandbox)',
      accountOwner: [EMAIL_SANDBOX_ACCOUNT_OWNER],
      surveyUrl: 'https://survey.sandbox.example/offboarding',
      exportLink: 'https://portal.sandbox.example/exports/{{terminationId}}',
    }),
};
