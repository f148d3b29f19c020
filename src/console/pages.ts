/**
 * The console's two HTML documents. Neither holds data or inline script: the app page
 * loads /console/assets/app.js, which reads everything through the admin API, so one
 * strict Content-Security-Policy covers both.
 */

const head = (title: string, extra = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${extra}
<title>${title} · deprovisiond</title><link rel="stylesheet" href="/console/assets/app.css"></head>`;

/** Text into HTML: the issuer URL comes from the config, which is still not markup. */
const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The sign-in form, and the "Sign in with" button when the console has an OIDC client.
 * `problem` is one of our fixed sentences, never anything the caller sent.
 */
export function loginPage(problem: string | null, oidcIssuer: string | null): string {
  return `${head('Sign in')}
<body class="login"><main>
<h1>deprovisiond console</h1>
${problem ? `<p class="problem" role="alert">${problem}</p>` : ''}
${oidcIssuer ? `<p><a class="button primary" id="oidc" href="/console/login/oidc">Sign in with ${escape(new URL(oidcIssuer).host)}</a></p>\n<p class="or">or</p>` : ''}
<form method="post" action="/console/login">
<label for="token">Admin token or OIDC access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required${oidcIssuer ? '' : ' autofocus'}>
<button type="submit">Sign in</button>
</form>
<p class="hint">The token is sent once, in this form's body, and exchanged for a session cookie; it is not stored.</p>
</main></body></html>
`;
}

/** After the issuer's callback: a same-site navigation to the console, without script (the CSP allows none inline). */
export function signedInPage(): string {
  return `${head('Signed in', '<meta http-equiv="refresh" content="0;url=/console/">')}
<body class="login"><main>
<h1>Signed in</h1>
<p><a href="/console/">Continue to the console</a></p>
</main></body></html>
`;
}

export function appPage(): string {
  return `${head('Console')}
<body>
<header><a class="brand" href="#/">deprovisiond</a><nav aria-label="Console"><a href="#/">Overview</a><a href="#/terminations">Terminations</a><a href="#/holds">Legal holds</a><a href="#/audit">Audit log</a></nav><span id="who"></span><button id="logout" type="button">Sign out</button></header>
<div id="status" role="status" aria-live="polite"></div>
<main id="view"><p>Loading…</p></main>
<script type="module" src="/console/assets/app.js"></script>
</body></html>
`;
}
