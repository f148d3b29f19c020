/**
 * Optional concurrency control (RFC 7644 §3.14): resources carry `meta.version` as a weak
 * ETag `W/"<version>"`, and a write with `If-Match` applies only to that version.
 */

/** The resource is not at a version the request's If-Match names (answered 412). */
export class PreconditionFailedError extends Error {
  constructor() {
    super('the resource has changed since the version in If-Match; read it again and retry with its ETag');
    this.name = 'PreconditionFailedError';
  }
}

/**
 * The versions an If-Match header accepts: null when the header is absent or `*` (any
 * version of an existing resource), else the set named (`W/"3"`, `"3"`, a list). A tag
 * that is not one of ours matches nothing, so the write is refused rather than applied blind.
 */
export function ifMatchVersions(header: string | undefined): Set<number> | null {
  if (header === undefined || header.trim() === '' || header.trim() === '*') return null;
  const versions = new Set<number>();
  for (const tag of header.split(',')) {
    const match = /^\s*(?:W\/)?"(\d{1,15})"\s*$/i.exec(tag);
    if (match) versions.add(Number(match[1]));
  }
  return versions;
}

/** Throws PreconditionFailedError unless `version` is one the If-Match header accepts. */
export function checkIfMatch(accepted: Set<number> | null, version: number): void {
  if (accepted !== null && !accepted.has(version)) throw new PreconditionFailedError();
}
