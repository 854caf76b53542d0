import { randomUUID } from 'node:crypto';
import { AppError, ErrorCode, type AlertMessage, type DeliveryView, type NotifyJob } from '@llamaproxy/shared';
import { errorMeta, type Logger } from '@llamaproxy/shared/node';
import type { AlertChannelRepository } from '../repositories/alert-channel.repository.js';
import type { AlertDeliveryRepository } from '../repositories/alert-delivery.repository.js';
import { PermanentFailure, type AttemptInfo, type NotificationQueue } from '../repositories/notification-queue.js';
import { DeliveryError, type NotificationSender } from '../repositories/notification-sender.js';
import type { AlertNotification } from './alert-engine.js';
import { alertTitle, formatDelivery } from './alert-format.js';

export interface AlertDeliveryDeps {
  channels: AlertChannelRepository;
  deliveries: AlertDeliveryRepository;
  queue: NotificationQueue;
  sender: NotificationSender;
  /** Tells the dashboards a delivery changed (history, channel health). */
  changed: (delivery: DeliveryView) => Promise<void>;
  dashboardUrl: string | null;
  logger: Logger;
}

/**
 * Turns notifications into deliveries (one history row and one queued job per channel) and
 * performs them in the queue's worker. A channel is marked failing at its first failed attempt,
 * which is logged once; it is ok again (logged once) after its next delivery. Nothing here logs a
 * channel's URL, token or password: errors are HTTP statuses, error codes and SMTP answers.
 */
export class AlertDeliveryService {
  private readonly deps: AlertDeliveryDeps;
  private readonly log: Logger;

  constructor(deps: AlertDeliveryDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'alert-delivery' });
  }

  /** The message a channel gets for a notification. */
  message(n: AlertNotification): AlertMessage {
    const text = n.event === 'resolved' ? `Resolved: ${n.summary}` : n.summary;
    return { id: n.id, event: n.event, ruleId: n.rule.id, ruleName: n.rule.name, subject: n.subject, title: alertTitle(n.event, n.rule.name, n.subject), text, at: n.at, dashboardUrl: this.deps.dashboardUrl };
  }

  /**
   * Records and queues every notification for each of its rule's channels (every enabled one
   * when the rule names none). A notification already recorded for a channel is not queued again.
   */
  async enqueue(notifications: readonly AlertNotification[]): Promise<void> {
    const { channels, deliveries, queue } = this.deps;
    const all = channels.list().filter((c) => c.enabled);
    for (const n of notifications) {
      const targets = n.rule.channelIds.length === 0 ? all : all.filter((c) => n.rule.channelIds.includes(c.id));
      const message = this.message(n);
      for (const channel of targets) {
        const deliveryId = deliveries.add({ messageId: n.id, event: n.event, ruleId: n.rule.id, ruleName: n.rule.name, subject: n.subject, channelId: channel.id, channelName: channel.name });
        if (deliveryId === null) {
          continue;
        }
        try {
          await queue.add({ deliveryId, channelId: channel.id, message }, `${n.id}-${channel.id}`);
        } catch (err) {
          deliveries.update(deliveryId, 'failed', 0, 'the notification queue (Redis) is unavailable');
          this.log.warn('notification not queued', { rule: n.rule.id, channel: channel.id, ...errorMeta(err) });
        }
        await this.changed(deliveryId);
      }
    }
  }

  /** The queue worker's processor: one attempt of one delivery. Throws to have it retried. */
  process = async (job: NotifyJob, attempt: AttemptInfo): Promise<void> => {
    const { channels, deliveries, sender } = this.deps;
    const channel = channels.get(job.channelId);
    if (channel === null || !channel.enabled) {
      deliveries.update(job.deliveryId, 'failed', attempt.attempt, channel === null ? 'the channel was deleted' : 'the channel is disabled');
      await this.changed(job.deliveryId);
      throw new PermanentFailure('channel gone or disabled');
    }
    try {
      await sender.send(channel.config, formatDelivery(channel.config, job.message));
    } catch (err) {
      const error = err instanceof DeliveryError ? err : new DeliveryError('unexpected error', true);
      if (!(err instanceof DeliveryError)) {
        this.log.debug('unexpected delivery error', errorMeta(err));
      }
      const final = !error.retryable || attempt.attempt >= attempt.maxAttempts;
      deliveries.update(job.deliveryId, final ? 'failed' : 'retrying', attempt.attempt, error.message);
      this.recordFailure(channel.id, channel.name, error.message);
      await this.changed(job.deliveryId);
      throw error.retryable ? error : new PermanentFailure(error.message);
    }
    deliveries.update(job.deliveryId, 'delivered', attempt.attempt, null);
    this.recordSuccess(channel.id, channel.name);
    await this.changed(job.deliveryId);
  };

  /** Sends a test message to a channel now, once, and records it in the history. */
  async test(channelId: string): Promise<DeliveryView> {
    const { channels, deliveries, sender } = this.deps;
    const channel = channels.get(channelId);
    if (channel === null) {
      throw new AppError(ErrorCode.ALERT_CHANNEL_NOT_FOUND, 'no such channel');
    }
    const message: AlertMessage = {
      id: randomUUID().replaceAll('-', ''),
      event: 'test',
      ruleId: 'test',
      ruleName: 'Test',
      subject: channel.name,
      title: alertTitle('test', 'Test', channel.name),
      text: `A test message from Llama Async Proxy to "${channel.name}".`,
      at: Date.now(),
      dashboardUrl: this.deps.dashboardUrl,
    };
    const deliveryId = deliveries.add({ messageId: message.id, event: 'test', ruleId: 'test', ruleName: 'Test', subject: channel.name, channelId, channelName: channel.name }) as number;
    try {
      await sender.send(channel.config, formatDelivery(channel.config, message));
    } catch (err) {
      const text = err instanceof DeliveryError ? err.message : 'unexpected error';
      deliveries.update(deliveryId, 'failed', 1, text);
      this.recordFailure(channel.id, channel.name, text);
      await this.changed(deliveryId);
      throw new AppError(ErrorCode.ALERT_DELIVERY_FAILED, `the test message was not delivered: ${text}`);
    }
    deliveries.update(deliveryId, 'delivered', 1, null);
    this.recordSuccess(channel.id, channel.name);
    await this.changed(deliveryId);
    return deliveries.get(deliveryId) as DeliveryView;
  }

  private recordFailure(id: string, name: string, error: string): void {
    const before = this.deps.channels.recordFailure(id, error);
    if (before !== null && before.consecutiveFailures === 0) {
      // Once per failing spell, not per attempt: the history has every attempt.
      this.log.warn('alert channel is failing', { channelId: id, channel: name, error });
    }
  }

  private recordSuccess(id: string, name: string): void {
    const before = this.deps.channels.recordSuccess(id);
    if (before !== null && before.consecutiveFailures > 0) {
      this.log.info('alert channel delivers again', { channelId: id, channel: name, failedAttempts: before.consecutiveFailures });
    }
  }

  private async changed(deliveryId: number): Promise<void> {
    const view = this.deps.deliveries.get(deliveryId);
    if (view !== null) {
      await this.deps.changed(view).catch((err: unknown) => this.log.debug('delivery broadcast failed', errorMeta(err)));
    }
  }
}
