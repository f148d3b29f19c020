/**
 * Property: any sequence of user and group operations (create, delete, PATCH in Entra's
 * and Okta's forms, PUT), applied through the group service to the store, leaves the
 * groups and memberships a plain in-memory model predicts: refused operations change
 * nothing, and a deleted user leaves every group.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupMemberNotFoundError } from '../src/store/directory-groups.ts';
import { GroupNotFoundError, ScimGroupService } from '../src/intake/scim/group-service.ts';
import { declareScimResources } from '../src/intake/scim/resources.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { sqliteBackend } from './store/backends.ts';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USERS = 5;
const GROUPS = 3;
const caller = { actor: 'scim:token-0', method: 'PATCH', warn: () => undefined };

const user = fc.integer({ min: 0, max: USERS - 1 });
const group = fc.integer({ min: 0, max: GROUPS - 1 });
const users = fc.uniqueArray(user, { maxLength: 3 });

type Command =
  | { kind: 'createUser' | 'deleteUser'; user: number }
  | { kind: 'createGroup' | 'put' | 'add' | 'removeList' | 'replaceMembers'; group: number; users: number[] }
  | { kind: 'removeFilter'; group: number; user: number }
  | { kind: 'rename'; group: number; name: string }
  | { kind: 'deleteGroup'; group: number };

// Deletions are rarer than writes, so that sequences keep groups with members to change.
const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constantFrom('createUser' as const, 'deleteUser' as const), user }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constantFrom(
        'createGroup' as const,
        'put' as const,
        'add' as const,
        'add' as const,
        'removeList' as const,
        'replaceMembers' as const,
      ),
      group,
      users,
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ kind: fc.constant('removeFilter' as const), group, user }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('rename' as const), group, name: fc.string({ minLength: 1, maxLength: 8 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('deleteGroup' as const), group }), weight: 1 },
);

const patch = (operation: Record<string, unknown>) => ({ schemas: [PATCH_OP], Operations: [operation] });

describe('groups against an in-memory model', () => {
  it('any sequence of operations leaves the state the model predicts', async () => {
    declareScimResources();
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 25 }), async (commands) => {
        const db = await sqliteBackend.open(() => new Date());
        try {
          const service = new ScimGroupService({ store: db.store, logger: silentLogger() });
          const userIds = new Map<number, string>();
          const groupIds = new Map<number, string>();
          const model = new Map<number, { name: string; members: Set<number> }>();
          let serial = 0;
          const uid = (n: number) => userIds.get(n) ?? `missing-user-${n}`;
          const members = (ns: number[]) => ns.map((n) => ({ value: uid(n) }));
          const allKnown = (ns: number[]) => ns.every((n) => userIds.has(n));
          const checkState = async () => {
            const { groups, total } = await service.list(null, { startIndex: 1, count: 100 }, true);
            expect(total).toBe(model.size);
            const actual = Object.fromEntries(
              groups.map((g) => [g.id, { name: g.displayName, members: g.members.map((m) => m.value).sort() }]),
            );
            const expected = Object.fromEntries(
              [...model].map(([slot, entry]) => [groupIds.get(slot)!, { name: entry.name, members: [...entry.members].map(uid).sort() }]),
            );
            expect(actual).toEqual(expected);
          };

          /** Runs a group operation: the model's expectation decides whether it must succeed or be refused. */
          const expectGroupWrite = async (
            slot: number,
            valid: boolean,
            run: (id: string) => Promise<unknown>,
            apply: (entry: { name: string; members: Set<number> }) => void,
          ) => {
            const id = groupIds.get(slot);
            const entry = model.get(slot);
            if (!id || !entry) return expect(run(id ?? 'missing-group')).rejects.toBeInstanceOf(GroupNotFoundError);
            if (!valid) return expect(run(id)).rejects.toBeInstanceOf(GroupMemberNotFoundError);
            await run(id);
            apply(entry);
          };

          // Every user and group exists at the start; the commands change, delete and re-create them.
          const seed: Command[] = [
            ...Array.from({ length: USERS }, (_, n) => ({ kind: 'createUser' as const, user: n })),
            ...Array.from({ length: GROUPS }, (_, g) => ({ kind: 'createGroup' as const, group: g, users: [] })),
          ];
          for (const c of [...seed, ...commands]) {
            switch (c.kind) {
              case 'createUser':
                if (userIds.has(c.user)) break;
                userIds.set(
                  c.user,
                  (
                    await db.store.directory.createUser(`u-${++serial}`, {
                      userName: `u${serial}@x.example`,
                      externalId: null,
                      active: true,
                      managerId: null,
                      attributes: {},
                    })
                  ).id,
                );
                break;
              case 'deleteUser':
                if (!userIds.has(c.user)) break;
                await db.store.directory.deleteUser(userIds.get(c.user)!);
                userIds.delete(c.user);
                for (const entry of model.values()) entry.members.delete(c.user);
                break;
              case 'createGroup':
                if (model.has(c.group)) break;
                if (!allKnown(c.users)) {
                  await expect(
                    service.create(
                      { displayName: 'g', externalId: null, members: members(c.users).map((m) => ({ ...m, display: null })) },
                      caller,
                    ),
                  ).rejects.toBeInstanceOf(GroupMemberNotFoundError);
                  break;
                }
                groupIds.set(
                  c.group,
                  (
                    await service.create(
                      { displayName: `g${c.group}`, externalId: null, members: members(c.users).map((m) => ({ ...m, display: null })) },
                      caller,
                    )
                  ).id,
                );
                model.set(c.group, { name: `g${c.group}`, members: new Set(c.users) });
                break;
              case 'put':
                await expectGroupWrite(
                  c.group,
                  allKnown(c.users),
                  (id) =>
                    service.replace(
                      id,
                      { displayName: `p${c.group}`, externalId: null, members: members(c.users).map((m) => ({ ...m, display: null })) },
                      caller,
                      null,
                    ),
                  (entry) => {
                    entry.name = `p${c.group}`;
                    entry.members = new Set(c.users);
                  },
                );
                break;
              case 'add':
                await expectGroupWrite(
                  c.group,
                  allKnown(c.users),
                  (id) => service.patch(id, patch({ op: 'Add', path: 'members', value: members(c.users) }), caller, null),
                  (entry) => {
                    for (const n of c.users) entry.members.add(n);
                  },
                );
                break;
              case 'replaceMembers':
                await expectGroupWrite(
                  c.group,
                  allKnown(c.users),
                  (id) => service.patch(id, patch({ op: 'replace', path: 'members', value: members(c.users) }), caller, null),
                  (entry) => {
                    entry.members = new Set(c.users);
                  },
                );
                break;
              case 'removeList':
                // Removing someone who is not a member (or no user at all) is not an error: nothing to remove.
                await expectGroupWrite(
                  c.group,
                  true,
                  (id) => service.patch(id, patch({ op: 'Remove', path: 'members', value: members(c.users) }), caller, null),
                  (entry) => {
                    for (const n of c.users) entry.members.delete(n);
                  },
                );
                break;
              case 'removeFilter':
                await expectGroupWrite(
                  c.group,
                  true,
                  (id) => service.patch(id, patch({ op: 'remove', path: `members[value eq "${uid(c.user)}"]` }), caller, null),
                  (entry) => {
                    entry.members.delete(c.user);
                  },
                );
                break;
              case 'rename':
                await expectGroupWrite(
                  c.group,
                  true,
                  (id) => service.patch(id, patch({ op: 'replace', value: { id, displayName: c.name } }), caller, null),
                  (entry) => {
                    entry.name = c.name;
                  },
                );
                break;
              case 'deleteGroup':
                await expectGroupWrite(
                  c.group,
                  true,
                  (id) => service.delete(id, caller, null),
                  () => {
                    model.delete(c.group);
                    groupIds.delete(c.group);
                  },
                );
                break;
            }
            await checkState();
          }
        } finally {
          await db.dispose();
        }
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
