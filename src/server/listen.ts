/**
 * The daemon's HTTP server, with the timeouts that cut a slow or idle client: headers
 * within `headersTimeout`, the whole request (body included) within `requestTimeout`,
 * an idle keep-alive connection after `keepAliveTimeout`. Node's defaults let a client
 * hold a connection and a buffered body for five minutes.
 */
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Config } from '../config/schema.ts';

/**
 * How often Node looks for connections past their headers or request timeout. Its default,
 * 30 s, would let a slow client outlive a 10 s timeout by half a minute.
 */
const TIMEOUT_CHECK_MS = 1_000;

export async function listen(app: RequestListener, server: Config['server']): Promise<Server> {
  const http = createServer(
    {
      headersTimeout: server.headersTimeout,
      requestTimeout: server.requestTimeout,
      keepAliveTimeout: server.keepAliveTimeout,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, server.headersTimeout),
    },
    app,
  );
  http.listen(server.port, server.host);
  await once(http, 'listening');
  return http;
}
