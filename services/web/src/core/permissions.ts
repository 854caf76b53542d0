/**
 * What the signed-in user may do, from the shared request table (`RequestEvents[event].role`,
 * copied without zod as REQUEST_ROLES). Views hide or disable every control whose request the
 * role cannot send; the gateway checks the same table again, so hiding is only a courtesy.
 */
import type { ConnectionIdentity, RequestEvent, Role } from '@llamaproxy/shared';
import { REQUEST_ROLES, ROLE_RANK } from './contract.js';
import { h } from './dom.js';
import type { StateManager } from './state-manager.js';

/** True when `role` is at least `needed` (the shared `roleAllows`). */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

/** True when this connection may send `event`. Unknown identity (not yet told) may do nothing. */
export function can(identity: Pick<ConnectionIdentity, 'role'> | null, event: RequestEvent): boolean {
  return identity !== null && roleAllows(identity.role, REQUEST_ROLES[event]);
}

/** True when every one of `events` is allowed (an action that sends several requests). */
export function canAll(identity: Pick<ConnectionIdentity, 'role'> | null, events: readonly RequestEvent[]): boolean {
  return events.every((event) => can(identity, event));
}

/** Markup for a control that sends `event`: hidden by `syncPermissions` when not allowed. */
export function needs(...events: RequestEvent[]): { 'data-needs': string } {
  return { 'data-needs': events.join(' ') };
}

/** Markup for a group of fields that edit what `event` saves: disabled (read-only) when not allowed. */
export function editNeeds(...events: RequestEvent[]): { 'data-edit-needs': string } {
  return { 'data-edit-needs': events.join(' ') };
}

/** Markup for a note shown only to roles that cannot send `event` (e.g. "read only"). */
export function lacks(...events: RequestEvent[]): { 'data-lacks': string } {
  return { 'data-lacks': events.join(' ') };
}

/** "Read only: saving this needs the admin role.", shown (by `syncPermissions`) to roles below it. */
export function readOnlyNote(event: RequestEvent, what = 'saving this'): HTMLElement {
  return h('p', { class: 'read-only-note muted', ...lacks(event) }, `Read only: ${what} needs the ${REQUEST_ROLES[event]} role.`);
}

function allowedBy(identity: Pick<ConnectionIdentity, 'role'> | null, list: string | undefined): boolean {
  const events = (list ?? '').split(' ').filter((e): e is RequestEvent => Object.hasOwn(REQUEST_ROLES, e));
  return canAll(identity, events);
}

/**
 * Applies the markup of `needs()`, `lacks()` and `editNeeds()` inside `root` (and on it):
 * controls the role cannot use are hidden, notes for roles that lack a right are shown, field
 * groups the role cannot save are disabled.
 */
export function syncPermissions(root: HTMLElement, identity: Pick<ConnectionIdentity, 'role'> | null): void {
  const each = (selector: string, apply: (el: HTMLElement) => void): void => {
    if (root.matches(selector)) {
      apply(root);
    }
    root.querySelectorAll<HTMLElement>(selector).forEach(apply);
  };
  each('[data-needs]', (el) => {
    el.hidden = !allowedBy(identity, el.dataset.needs);
  });
  each('[data-lacks]', (el) => {
    el.hidden = allowedBy(identity, el.dataset.lacks);
  });
  each('[data-edit-needs]', (el) => {
    const allowed = allowedBy(identity, el.dataset.editNeeds);
    if (el instanceof HTMLFieldSetElement || el instanceof HTMLButtonElement || el instanceof HTMLSelectElement) {
      el.disabled = !allowed;
    } else if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
      el.readOnly = !allowed;
    }
    el.toggleAttribute('data-read-only', !allowed);
  });
}

/** Keeps `root`'s permission markup in line with the identity in `store`; returns the unsubscribe. */
export function watchPermissions(store: Pick<StateManager, 'subscribe'>, root: HTMLElement): () => void {
  return store.subscribe('identity', (identity) => syncPermissions(root, identity), true);
}
