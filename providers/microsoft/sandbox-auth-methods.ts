/**
 * The sandbox's slice of `/users/{id}/authentication`: the method list and the
 * type-specific DELETEs, with the two refusals Graph documents: the user's default MFA
 * method cannot go while other methods remain, and a mobile phone cannot go while an
 * alternateMobile exists.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

/** What a seeded user can have besides the password. */
export type SeedAuthMethod =
  | 'mobilePhone'
  | 'alternateMobilePhone'
  | 'microsoftAuthenticator'
  | 'fido2'
  | 'softwareOath'
  | 'email'
  | 'windowsHelloForBusiness'
  | 'temporaryAccessPass';

interface StoredMethod {
  id: string;
  collection: string;
  type: string;
  extra: Record<string, unknown>;
}

/** Graph's fixed ids: the password method and the phone methods, one per phoneType. */
const PASSWORD_METHOD_ID = '28c10230-6103-485e-b985-444c60001490';
const MOBILE_ID = '3179e48a-750b-4051-897c-87b9720928f7';
const ALTERNATE_MOBILE_ID = 'b6332ec1-7057-4abe-9331-3d72feddfe41';

const KINDS: Record<SeedAuthMethod, { collection: string; type: string; id?: string; extra: Record<string, unknown> }> = {
  mobilePhone: { collection: 'phoneMethods', type: 'phone', id: MOBILE_ID, extra: { phoneNumber: '+1 2065550100', phoneType: 'mobile' } },
  alternateMobilePhone: {
    collection: 'phoneMethods',
    type: 'phone',
    id: ALTERNATE_MOBILE_ID,
    extra: { phoneNumber: '+1 2065550101', phoneType: 'alternateMobile' },
  },
  microsoftAuthenticator: {
    collection: 'microsoftAuthenticatorMethods',
    type: 'microsoftAuthenticator',
    extra: { displayName: 'Sandbox phone', deviceTag: 'SoftwareTokenActivated' },
  },
  fido2: { collection: 'fido2Methods', type: 'fido2', extra: { displayName: 'Sandbox key', model: 'YubiKey 5' } },
  softwareOath: { collection: 'softwareOathMethods', type: 'softwareOath', extra: {} },
  email: { collection: 'emailMethods', type: 'email', extra: { emailAddress: 'recovery@example.invalid' } },
  windowsHelloForBusiness: {
    collection: 'windowsHelloForBusinessMethods',
    type: 'windowsHelloForBusiness',
    extra: { displayName: 'LAPTOP-1' },
  },
  temporaryAccessPass: { collection: 'temporaryAccessPassMethods', type: 'temporaryAccessPass', extra: { lifetimeInMinutes: 60 } },
};

const typeName = (type: string) => `#microsoft.graph.${type}AuthenticationMethod`;

type GraphErrorWriter = (res: Response, status: number, code: string, message: string) => void;

export class AuthMethodStore {
  /** Per user, in seeding order; the first one is the user's default MFA method. */
  private readonly byUser = new Map<string, StoredMethod[]>();

  seed(userId: string, kinds: SeedAuthMethod[]): void {
    const methods = kinds
      .filter((kind) => Object.hasOwn(KINDS, kind))
      .map((kind) => {
        const spec = KINDS[kind];
        return { id: spec.id ?? randomUUID(), collection: spec.collection, type: spec.type, extra: spec.extra };
      });
    this.byUser.set(userId, methods);
  }

  /** Type names of the methods other than the password (for the control API). */
  types(userId: string): string[] {
    return (this.byUser.get(userId) ?? []).map((m) => m.type);
  }

  /** `GET /users/{id}/authentication/methods` and the DELETEs under `/users/{id}/authentication/{collection}/{id}`. */
  route(
    userId: string,
    parts: { collection: string | undefined; methodId: string | undefined; rest: string | undefined },
    req: Request,
    res: Response,
    io: { control: SandboxControl; graphError: GraphErrorWriter; root: string },
  ): boolean {
    const methods = this.byUser.get(userId) ?? [];
    const { collection, methodId, rest } = parts;
    if (collection === 'methods' && methodId === undefined && req.method === 'GET') {
      const password = { '@odata.type': typeName('password'), id: PASSWORD_METHOD_ID, password: null, createdDateTime: null };
      const value = [password, ...methods.map((m) => ({ '@odata.type': typeName(m.type), id: m.id, ...m.extra }))];
      res.json({ '@odata.context': `${io.root}/$metadata#users('${userId}')/authentication/methods`, value });
      return true;
    }
    if (collection === undefined || methodId === undefined || rest !== undefined || req.method !== 'DELETE') return false;
    const index = methods.findIndex((m) => m.collection === collection && m.id === methodId);
    if (index < 0) {
      io.graphError(res, 404, 'itemNotFound', `Authentication method '${methodId}' not found.`);
      return true;
    }
    const method = methods[index]!;
    if (index === 0 && methods.length > 1) {
      io.graphError(
        res,
        400,
        'badRequest',
        'Cannot delete default method with other methods configured. Please change default method before deletion.',
      );
      return true;
    }
    if (method.id === MOBILE_ID && methods.some((m) => m.id === ALTERNATE_MOBILE_ID)) {
      io.graphError(res, 400, 'badRequest', 'Cannot delete mobile phone method while an alternateMobile phone method exists.');
      return true;
    }
    if (io.control.lie()) {
      res.status(204).end();
      return true;
    }
    methods.splice(index, 1);
    io.control.countWrite('remove_auth_method', userId);
    res.status(204).end();
    return true;
  }
}
