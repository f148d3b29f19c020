/** The user's OneDrive, as transfer_files and revoke_public_links both find it. */
import { seg, type GraphApi } from './graph-client.ts';

/** `GET /users/{id}/drive`: the drive's id, or null when the user has no OneDrive (Graph answers 404). */
export async function driveIdOf(graph: GraphApi, userId: string, signal: AbortSignal): Promise<string | null> {
  const drive = await graph.call<{ id?: unknown }>({
    method: 'GET',
    path: `/users/${seg(userId)}/drive`,
    query: { $select: 'id' },
    signal,
    notFoundIsNull: true,
  });
  return typeof drive?.id === 'string' && drive.id !== '' ? drive.id : null;
}
