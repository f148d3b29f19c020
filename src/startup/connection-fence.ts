/**
 * The lease fence where a request meets its socket. The throttle hook checks the lease when
 * an attempt asks for its turn; between that check and the moment the request's bytes
 * leave, an SDK may still sign the request, wait for its middleware or open a connection.
 * A replica frozen in that gap sends the request when it resumes, after another replica has
 * taken the task over. So the thread that runs attempts checks again where each HTTP stack
 * hands a request to a socket: Node's http agents (node-fetch, in the Okta and Google SDKs)
 * when a request is handed to the agent and again when it is given its connection, undici (fetch, in Graph and the other adapters) when
 * a request is dispatched; and for both, when a new connection completes, right before the
 * request is written on it. Outside an attempt there is no lease and nothing changes.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Agent, buildConnector, setGlobalDispatcher, type Dispatcher } from 'undici';
import { assertLeaseHeld, currentLease, LeaseLostError, type LeaseWindow } from '../engine/lease-fence.ts';

/** Destroys a connection that completed after its attempt's lease ran short, before anything is written on it. */
function fenceOnConnect(socket: Socket, window: LeaseWindow | undefined): void {
  if (!window) return;
  socket.once('connect', () => {
    try {
      assertLeaseHeld(window);
    } catch (error) {
      socket.destroy(error as LeaseLostError);
    }
  });
}

interface AgentInternals {
  addRequest(request: http.ClientRequest, options: unknown): void;
  createConnection(options: unknown, callback?: unknown): Socket;
}

function fencedAgent<T extends http.Agent>(agent: T): T {
  const internals = agent as unknown as AgentInternals;
  const addRequest = internals.addRequest.bind(agent);
  const createConnection = internals.createConnection.bind(agent);
  internals.addRequest = (request, options) => {
    const window = currentLease();
    assertLeaseHeld(window);
    // The agent hands the request its socket a tick later, and Node writes the request in
    // the same tick right after the 'socket' event: checking there leaves a freeze no gap
    // of other work between the last check and the write (a kept-alive socket does not
    // connect, so the check at connect below never runs for it).
    if (window) {
      request.once('socket', () => {
        try {
          assertLeaseHeld(window);
        } catch (error) {
          request.destroy(error as LeaseLostError);
        }
      });
    }
    addRequest(request, options);
  };
  internals.createConnection = (options, callback) => {
    const socket = createConnection(options, callback);
    fenceOnConnect(socket, currentLease());
    return socket;
  };
  return agent;
}

class FencedDispatcher extends Agent {
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    assertLeaseHeld();
    return super.dispatch(options, handler);
  }
}

let installed = false;

/** Installs the fence on this thread's default HTTP agents and fetch dispatcher (once). */
export function installConnectionFence(): void {
  if (installed) return;
  installed = true;
  http.globalAgent = fencedAgent(new http.Agent({ keepAlive: true }));
  https.globalAgent = fencedAgent(new https.Agent({ keepAlive: true }));
  const connect = buildConnector({});
  setGlobalDispatcher(
    new FencedDispatcher({
      connect: (options, callback) => {
        const window = currentLease();
        connect(options, (error, socket) => {
          if (error) return callback(error, socket);
          try {
            assertLeaseHeld(window);
          } catch (fenced) {
            socket.destroy();
            return callback(fenced as LeaseLostError, null);
          }
          callback(null, socket);
        });
      },
    }),
  );
}
