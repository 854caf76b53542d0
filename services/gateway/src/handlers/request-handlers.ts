import type { Redis } from 'ioredis';
import type { ApiActivityRepository } from '../repositories/api-activity.repository.js';
import type { AuditRepository } from '../repositories/audit.repository.js';
import type { LogRepository } from '../repositories/log.repository.js';
import type { MetricsRepository } from '../repositories/metrics.repository.js';
import type { SessionRepository } from '../repositories/session.repository.js';
import type { ApiKeysService } from '../services/api-keys.service.js';
import type { AuthService } from '../services/auth.service.js';
import type { Broadcaster } from '../services/broadcaster.js';
import type { DashboardState } from '../services/dashboard-state.js';
import type { JobService } from '../services/job.service.js';
import type { PresetChanges } from '../services/preset-changes.js';
import type { SnapshotService } from '../services/snapshot.service.js';
import type { UsersService } from '../services/users.service.js';
import type { PlacementSettingsService } from '../services/placement-settings.service.js';
import { createPlacementHandlers } from './placement.handlers.js';
import { createActivityHandlers } from './activity.handlers.js';
import { createAlertHandlers, type AlertHandlerDeps } from './alerts.handlers.js';
import { createApiKeyHandlers } from './apikeys.handlers.js';
import { createAuditHandlers } from './audit.handlers.js';
import { createLogHandlers } from './logs.handlers.js';
import { createMetricsHandlers } from './metrics.handlers.js';
import { createModelHandlers } from './models.handlers.js';
import { createPresetHandlers } from './presets.handlers.js';
import type { Handlers } from './request-context.js';
import type { CaptureRepository } from '../repositories/capture.repository.js';
import { createServerHandlers } from './server.handlers.js';
import { createSettingsHandlers } from './settings.handlers.js';
import { createUserHandlers } from './users.handlers.js';
import { createDownloadHandlers } from './downloads.handlers.js';
import type { DownloadService } from '../services/downloads.service.js';

export interface RequestHandlerDeps extends AlertHandlerDeps {
  dashboard: DashboardState;
  jobs: JobService;
  presets: PresetChanges;
  logs: LogRepository;
  metrics: MetricsRepository;
  broadcaster: Broadcaster;
  redis: Redis;
  snapshots: SnapshotService;
  users: UsersService;
  auth: AuthService;
  sessions: SessionRepository;
  audit: AuditRepository;
  apiKeys: ApiKeysService;
  apiActivity: ApiActivityRepository;
  captures: CaptureRepository;
  placement: PlacementSettingsService;
  downloads: DownloadService;
}

/** Every request event's handler, one module per domain. */
export function createRequestHandlers(deps: RequestHandlerDeps): Handlers {
  return {
    ...createModelHandlers(deps),
    ...createAlertHandlers(deps),
    ...createPresetHandlers(deps),
    ...createServerHandlers(deps),
    ...createMetricsHandlers(deps),
    ...createLogHandlers(deps),
    ...createSettingsHandlers(deps),
    ...createUserHandlers(deps),
    ...createAuditHandlers(deps),
    ...createApiKeyHandlers(deps),
    ...createActivityHandlers(deps),
    ...createPlacementHandlers(deps),
    ...createDownloadHandlers(deps),
  };
}
