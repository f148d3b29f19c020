/** The `email` provider kind: messages to a client's contacts and its account owner over SMTP (nodemailer). */
import type { ProviderModule } from '../module.ts';
import { createEmailProvider } from './adapter.ts';
import type { EmailConfig } from './config.ts';
import { emailKind } from './kind.ts';

export const emailModule: ProviderModule<EmailConfig> = {
  ...emailKind,
  create: (config, ctx) => createEmailProvider(config, ctx),
};
