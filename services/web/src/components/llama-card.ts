import type { LlamaStatus, NodeView } from '@llamaproxy/shared';
import { runJob } from '../core/actions.js';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h, replaceChildren, setText } from '../core/dom.js';
import { needs, syncPermissions } from '../core/permissions.js';
import { formatDateTime, formatDuration } from '../lib/format.js';
import { offlineSince } from '../lib/node-status.js';
import { ProgressBar } from './progress-bar.js';
import { setBadge } from './status-badge.js';

export interface LlamaCardProps {
  ctx: AppContext;
  status: LlamaStatus;
  /** Whether its supervisor is heard from; null while the gateway has not listed the node. */
  node: NodeView | null;
}

type Action = 'start' | 'stop' | 'restart';

const ALLOWED: Record<Action, readonly LlamaStatus['state'][]> = {
  start: ['stopped', 'crashed', 'failed'],
  stop: ['running', 'starting', 'crashed'],
  restart: ['running', 'crashed', 'failed'],
};

/**
 * One supervisor's llama-server: state, uptime, last exit, and start/stop/restart for roles that
 * may. While its supervisor is offline the card says since when: what it shows is the last report.
 */
export class LlamaCard extends Component<LlamaCardProps> {
  private progress: ProgressBar | null = null;
  private busy = false;

  protected override render(): HTMLElement {
    const button = (action: Action, label: string) => h('button', { class: 'button', 'data-action': action, ...needs(`llama:${action}`) }, label);
    return h(
      'article',
      { class: 'card llama-card' },
      h(
        'header',
        { class: 'card-header' },
        h('h2', null, 'llama-server ', h('span', { class: 'muted node' })),
        h('span', null, h('span', { class: 'badge offline', 'data-tone': 'bad', hidden: true }, 'offline'), ' ', h('span', { class: 'badge state' })),
      ),
      h('p', { class: 'node-offline problem', role: 'status', hidden: true }),
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'Uptime'),
        h('dd', { class: 'uptime' }),
        h('dt', null, 'Restarts'),
        h('dd', { class: 'restarts' }),
        h('dt', null, 'PID'),
        h('dd', { class: 'pid' }),
        h('dt', null, 'URL'),
        h('dd', { class: 'url' }),
      ),
      h('div', { class: 'exit' }),
      h('div', { class: 'job' }),
      h('div', { class: 'actions' }, button('start', 'Start'), button('stop', 'Stop'), button('restart', 'Restart')),
    );
  }

  protected override events(): EventMap {
    return {
      'click [data-action="start"]': () => this.act('start'),
      'click [data-action="stop"]': () => this.act('stop'),
      'click [data-action="restart"]': () => this.act('restart'),
    };
  }

  protected override onMount(): void {
    this.every(1000, () => {
      this.showUptime();
      this.showNode();
    });
  }

  protected override patch(): void {
    const s = this.props.status;
    setText(this.el.querySelector('.node') as HTMLElement, s.nodeId);
    setBadge(this.el.querySelector('.state') as HTMLElement, s.state);
    setText(this.el.querySelector('.restarts') as HTMLElement, String(s.restarts));
    setText(this.el.querySelector('.pid') as HTMLElement, s.pid === null ? '—' : String(s.pid));
    setText(this.el.querySelector('.url') as HTMLElement, s.url ?? '—');
    this.showUptime();
    this.showNode();
    this.showExit(s);
    for (const action of Object.keys(ALLOWED) as Action[]) {
      const button = this.el.querySelector(`[data-action="${action}"]`) as HTMLButtonElement;
      button.disabled = this.busy || !ALLOWED[action].includes(s.state);
    }
    syncPermissions(this.el, this.props.ctx.store.get('identity'));
  }

  private showUptime(): void {
    const s = this.props.status;
    const up = s.state === 'running' && s.startedAt !== null ? (Date.now() - s.startedAt) / 1000 : null;
    let text = formatDuration(up);
    if (s.state === 'crashed' && s.nextRestartAt !== null) {
      text = `restarting in ${formatDuration(Math.max(0, (s.nextRestartAt - Date.now()) / 1000))}`;
    }
    setText(this.el.querySelector('.uptime') as HTMLElement, text);
  }

  /** The offline badge and "offline since …", from the node's last-heard time. */
  private showNode(): void {
    const text = this.props.node === null ? null : offlineSince(this.props.node, Date.now());
    const line = this.el.querySelector('.node-offline') as HTMLElement;
    (this.el.querySelector('.offline') as HTMLElement).hidden = text === null;
    line.hidden = text === null;
    setText(line, text === null ? '' : `Supervisor ${text}; the state shown is its last report.`);
    this.el.classList.toggle('stale', text !== null);
  }

  private showExit(s: LlamaStatus): void {
    const box = this.el.querySelector('.exit') as HTMLElement;
    const exit = s.lastExit;
    if (exit === null || s.state === 'running') {
      box.replaceChildren();
      return;
    }
    const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code ?? '?'}`;
    replaceChildren(
      box,
      h(
        'details',
        { class: 'exit-details' },
        h('summary', null, `Last exit: ${how} at ${formatDateTime(exit.at)}`),
        h('pre', { class: 'log-tail' }, exit.logTail.join('\n')),
      ),
    );
  }

  private act(action: Action): void {
    const { ctx } = this.props;
    this.busy = true;
    this.patch();
    this.drop(this.progress);
    this.progress = this.adopt(new ProgressBar({ value: null, label: `${action}…` }), this.el.querySelector('.job') as HTMLElement);
    void runJob(
      ctx,
      `${action[0]?.toUpperCase()}${action.slice(1)} llama-server`,
      () => ctx.store.request(`llama:${action}`, {}),
      (job) => this.progress?.update({ value: job.progress?.value ?? null, label: job.progress?.message ?? job.progress?.stage ?? job.state }),
    ).finally(() => {
      this.busy = false;
      this.drop(this.progress);
      this.progress = null;
      if (!this.isDestroyed) {
        this.patch();
      }
    });
  }
}
