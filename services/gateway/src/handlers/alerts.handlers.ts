import type { AlertDeliveryRepository } from '../repositories/alert-delivery.repository.js';
import type { AlertConfigService } from '../services/alert-config.service.js';
import type { AlertDeliveryService } from '../services/alert-delivery.service.js';
import type { AlertEvaluator } from '../services/alert-evaluator.js';
import type { DomainHandlers } from './request-context.js';

type AlertEvents =
  | 'alerts:get'
  | 'alerts:channels:create'
  | 'alerts:channels:update'
  | 'alerts:channels:delete'
  | 'alerts:channels:test'
  | 'alerts:rules:save'
  | 'alerts:rules:delete'
  | 'alerts:rules:silence'
  | 'alerts:history';

export interface AlertHandlerDeps {
  alertConfig: AlertConfigService;
  alertDelivery: AlertDeliveryService;
  alertEvaluator: AlertEvaluator;
  alertDeliveries: AlertDeliveryRepository;
}

/** Alert channels, rules, the firing list and the delivery history (admins only, by the shared role table). */
export function createAlertHandlers(deps: AlertHandlerDeps): DomainHandlers<AlertEvents> {
  const { alertConfig: config, alertDelivery: delivery, alertEvaluator: evaluator, alertDeliveries: deliveries } = deps;
  return {
    'alerts:get': async () => {
      const rules = config.listRules();
      return { channels: config.listChannels(), rules, firing: evaluator.firing(rules) };
    },
    'alerts:channels:create': async ({ name, enabled, config: patch }) => ({ channel: config.createChannel(name, enabled, patch) }),
    'alerts:channels:update': async ({ channelId, name, enabled, config: patch }) => ({ channel: config.updateChannel(channelId, { name, enabled, config: patch }) }),
    'alerts:channels:delete': async ({ channelId }) => {
      config.deleteChannel(channelId);
      return { channelId };
    },
    'alerts:channels:test': async ({ channelId }) => ({ delivery: await delivery.test(channelId) }),
    'alerts:rules:save': async ({ rule }) => ({ rule: config.saveRule(rule) }),
    'alerts:rules:delete': async ({ ruleId }) => {
      config.deleteRule(ruleId);
      return { ruleId };
    },
    'alerts:rules:silence': async ({ ruleId, durationMs }) => ({ rule: config.silenceRule(ruleId, durationMs) }),
    'alerts:history': async ({ ruleId, channelId, beforeId, limit }) => deliveries.query({ ruleId, channelId, beforeId, limit }),
  };
}
