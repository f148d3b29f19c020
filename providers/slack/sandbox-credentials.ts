/**
 * The sandbox's fixed credentials: plain values, shared by the emulator and by `kind.ts`,
 * which points the adapter at a running sandbox without loading the emulator.
 */
/** Sandbox credentials, not secrets. A user token of an Org Admin, with the Web API scopes the adapter needs. */
export const SLACK_SANDBOX_TOKEN = 'xoxp-sandbox-org-admin';
/** A token with the SCIM `admin` scope. */
export const SLACK_SANDBOX_SCIM_TOKEN = 'xoxp-sandbox-scim-admin';
/** A bot token with the lookup scopes: the admin.* methods refuse it (`not_allowed_token_type`). */
export const SLACK_SANDBOX_BOT_TOKEN = 'xoxb-sandbox-bot';
