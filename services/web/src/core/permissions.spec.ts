// @vitest-environment happy-dom
import { REQUEST_EVENT_NAMES, RequestEvents, roleAllows as sharedRoleAllows, type Role } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { identity } from '../test-support/fixtures.js';
import { h } from './dom.js';
import { can, canAll, editNeeds, needs, readOnlyNote, roleAllows, syncPermissions } from './permissions.js';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

describe('can', () => {
  it.each([
    ['viewer', 'models:list', true],
    ['viewer', 'models:load', false],
    ['operator', 'models:load', true],
    ['operator', 'config:update', false],
    ['admin', 'config:update', true],
    ['operator', 'users:list', false],
    ['admin', 'audit:query', true],
  ] as const)('%s may send %s: %s', (role, event, expected) => {
    expect(can(identity(role), event)).toBe(expected);
  });

  it('agrees with the shared request table for every role and event', () => {
    for (const role of ROLES) {
      for (const event of REQUEST_EVENT_NAMES) {
        expect(can({ role }, event), `${role} ${event}`).toBe(sharedRoleAllows(role, RequestEvents[event].role));
      }
    }
  });

  it('agrees with the shared roleAllows', () => {
    for (const a of ROLES) {
      for (const b of ROLES) {
        expect(roleAllows(a, b)).toBe(sharedRoleAllows(a, b));
      }
    }
  });

  it('allows nothing while the identity is unknown, everything with sign-in off', () => {
    expect(can(null, 'models:list')).toBe(false);
    expect(canAll(identity(), REQUEST_EVENT_NAMES)).toBe(true);
  });
});

describe('syncPermissions', () => {
  const view = () =>
    h(
      'div',
      null,
      h('button', { class: 'load', ...needs('models:load') }, 'Load'),
      h('button', { class: 'import', ...needs('settings:update', 'config:update') }, 'Import'),
      h('fieldset', { class: 'form', ...editNeeds('config:update') }, h('input', { name: 'x' })),
      h('textarea', { class: 'ini', ...editNeeds('presets:update') }),
      readOnlyNote('config:update'),
    );

  it.each([
    ['viewer', { load: true, import: true, form: true }],
    ['operator', { load: false, import: true, form: true }],
    ['admin', { load: false, import: false, form: false }],
  ] as const)('hides and disables what a %s cannot do', (role, hiddenOrDisabled) => {
    const root = view();
    syncPermissions(root, identity(role));
    expect((root.querySelector('.load') as HTMLElement).hidden).toBe(hiddenOrDisabled.load);
    expect((root.querySelector('.import') as HTMLElement).hidden).toBe(hiddenOrDisabled.import);
    expect((root.querySelector('.form') as HTMLFieldSetElement).disabled).toBe(hiddenOrDisabled.form);
    expect((root.querySelector('.ini') as HTMLTextAreaElement).readOnly).toBe(role !== 'admin');
    expect((root.querySelector('.read-only-note') as HTMLElement).hidden).toBe(role === 'admin');
  });

  it('names the role a read-only note lacks', () => {
    expect(readOnlyNote('config:update').textContent).toBe('Read only: saving this needs the admin role.');
  });

  it('shows again what a promotion allows', () => {
    const root = view();
    syncPermissions(root, identity('viewer'));
    syncPermissions(root, identity('admin'));
    expect((root.querySelector('.load') as HTMLElement).hidden).toBe(false);
    expect((root.querySelector('.form') as HTMLFieldSetElement).disabled).toBe(false);
  });
});
