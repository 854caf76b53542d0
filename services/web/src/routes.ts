/**
 * The pages; Alerts, Users and Audit only for roles that may send the request named by `needs` (admins).
 * The dashboard is in the initial bundle (it is the first thing people see); the others are
 * loaded on first visit, with uPlot and zod only in the chunks that need them.
 */
import type { RequestEvent } from '@llamaproxy/shared';
import type { Component } from './core/component.js';
import type { AppContext } from './core/context.js';
import type { RouteDef } from './core/router.js';
import { DashboardPage } from './pages/dashboard-page.js';
import { NotFoundPage } from './pages/not-found-page.js';

export type PageClass = new (ctx: AppContext) => Component<AppContext>;

export interface AppRoute extends RouteDef {
  icon: string;
  /** Keyboard shortcut that opens the page. */
  keys: string;
  /** Only roles that may send this request see the page (and its link). */
  needs?: RequestEvent;
  load(): Promise<PageClass>;
}

export const ROUTES: readonly AppRoute[] = [
  { path: '/', title: 'Dashboard', icon: '◧', keys: 'g d', load: () => Promise.resolve(DashboardPage) },
  { path: '/models', title: 'Models', icon: '▤', keys: 'g m', load: async () => (await import('./pages/models-page.js')).ModelsPage },
  { path: '/monitoring', title: 'Monitoring', icon: '∿', keys: 'g o', load: async () => (await import('./pages/monitoring-page.js')).MonitoringPage },
  { path: '/configuration', title: 'Configuration', icon: '⚙', keys: 'g c', load: async () => (await import('./pages/configuration-page.js')).ConfigurationPage },
  { path: '/settings', title: 'Settings', icon: '☰', keys: 'g s', load: async () => (await import('./pages/settings-page.js')).SettingsPage },
  { path: '/logs', title: 'Logs', icon: '≡', keys: 'g l', load: async () => (await import('./pages/logs-page.js')).LogsPage },
  { path: '/playground', title: 'Playground', icon: '▷', keys: 'g p', needs: 'models:load', load: async () => (await import('./pages/playground-page.js')).PlaygroundPage },
  { path: '/activity', title: 'Activity', icon: '⇅', keys: 'g y', needs: 'activity:query', load: async () => (await import('./pages/activity-page.js')).ActivityPage },
  { path: '/api-keys', title: 'API keys', icon: '⚿', keys: 'g k', needs: 'apikeys:list', load: async () => (await import('./pages/api-keys-page.js')).ApiKeysPage },
  { path: '/alerts', title: 'Alerts', icon: '⚑', keys: 'g n', needs: 'alerts:get', load: async () => (await import('./pages/alerts-page.js')).AlertsPage },
  { path: '/users', title: 'Users', icon: '⚇', keys: 'g u', needs: 'users:list', load: async () => (await import('./pages/users-page.js')).UsersPage },
  { path: '/audit', title: 'Audit', icon: '☷', keys: 'g a', needs: 'audit:query', load: async () => (await import('./pages/audit-page.js')).AuditPage },
  { path: '/get-models', title: 'Get models', icon: '⇩', keys: 'g g', needs: 'hf:search', load: async () => (await import('./pages/get-models-page.js')).GetModelsPage },
];

export const NOT_FOUND: AppRoute = { path: '', title: 'Not found', icon: '', keys: '', load: () => Promise.resolve(NotFoundPage) };
