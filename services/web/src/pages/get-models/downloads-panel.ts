import type { DownloadView } from '@llamaproxy/shared';
import { ProgressBar } from '../../components/progress-bar.js';
import { Component, type EventMap } from '../../core/component.js';
import type { AppContext } from '../../core/context.js';
import { h, setText } from '../../core/dom.js';
import { KeyedList } from '../../core/keyed-list.js';
import { needs, syncPermissions } from '../../core/permissions.js';
import { errorMessage } from '../../core/transport.js';
import { downloadFraction, downloadLine, mergeDownload } from './download-text.js';

/** One download: repository → model name, a progress bar with bytes, speed and ETA, Cancel / Retry / Load. */
class DownloadRow extends Component<DownloadView> {
  private bar!: ProgressBar;

  protected override render(): HTMLElement {
    this.bar = new ProgressBar({ value: null, label: '' });
    const row = h(
      'li',
      { class: 'download', 'data-id': this.props.id },
      h('div', { class: 'download-head' }, h('strong', { class: 'name' }), h('span', { class: 'repo muted' }), h('span', { class: 'badge state' })),
      h('div', { class: 'download-bar' }),
      h('div', { class: 'line muted' }),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'button small', 'data-action': 'cancel-download', 'data-id': this.props.id, ...needs('downloads:cancel') }, 'Cancel'),
        h('button', { type: 'button', class: 'button small', 'data-action': 'retry-download', 'data-id': this.props.id, ...needs('downloads:start') }, 'Retry'),
        h('button', { type: 'button', class: 'button small primary', 'data-action': 'load-download', 'data-id': this.props.id, ...needs('models:load') }, 'Load'),
      ),
    );
    this.bar.mount(row.querySelector('.download-bar') as HTMLElement);
    this.own(() => this.bar.destroy());
    return row;
  }

  protected override patch(): void {
    const d = this.props;
    const q = (s: string): HTMLElement => this.el.querySelector(s) as HTMLElement;
    setText(q('.name'), d.name);
    setText(q('.repo'), d.repo);
    const state = q('.state');
    setText(state, d.state);
    state.dataset.tone = d.state === 'completed' ? 'ok' : d.state === 'failed' ? 'bad' : d.state === 'cancelled' ? 'warn' : 'info';
    this.el.dataset.state = d.state;
    // The last stage reported ("installing") stays in `progress` after the end: label the bar by state then.
    this.bar.update({ value: downloadFraction(d), label: d.state === 'active' ? (d.progress?.stage ?? d.state) : d.state });
    setText(q('.line'), downloadLine(d));
    // Shown by state here; hidden by role through the `needs` markup (a separate attribute).
    q('[data-action="cancel-download"]').style.display = d.state === 'active' || d.state === 'queued' ? '' : 'none';
    q('[data-action="retry-download"]').style.display = d.state === 'failed' || d.state === 'cancelled' ? '' : 'none';
    q('[data-action="load-download"]').style.display = d.state === 'completed' ? '' : 'none';
  }
}

export interface DownloadsPanelProps {
  ctx: AppContext;
  /** Only running and queued downloads, and nothing at all when there are none (the Models page). */
  runningOnly: boolean;
}

/**
 * The node's downloads with their progress (bytes, speed, time left), live from `downloads:progress`:
 * Cancel while queued or running, Retry after a failure or cancel, Load once done. The Get models
 * page shows every download the queue keeps; the Models page only the running ones.
 */
export class DownloadsPanel extends Component<DownloadsPanelProps> {
  private downloads: DownloadView[] = [];
  private rows!: KeyedList<DownloadView>;

  protected override render(): HTMLElement {
    const list = h('ul', { class: 'downloads-list' });
    const panel = h(
      'section',
      { class: 'card downloads-panel', 'aria-label': 'Downloads', hidden: this.props.runningOnly },
      h('h2', null, 'Downloads'),
      list,
      h('p', { class: 'empty downloads-empty muted' }, 'No download yet.'),
    );
    this.rows = new KeyedList(list, (d) => d.id, (d) => new DownloadRow(d));
    this.own(() => this.rows.clear());
    return panel;
  }

  protected override events(): EventMap {
    return {
      'click [data-action="cancel-download"]': (_e, target) => void this.cancel(target.dataset.id ?? ''),
      'click [data-action="retry-download"]': (_e, target) => void this.retry(target.dataset.id ?? ''),
      'click [data-action="load-download"]': (_e, target) => void this.load(target.dataset.id ?? ''),
    };
  }

  protected override onMount(): void {
    const { store } = this.props.ctx;
    this.own(
      store.subscribe('downloadUpdate', (update) => {
        if (update !== null) {
          this.add(update);
        }
      }),
    );
    this.own(store.subscribe('identity', () => this.show()));
    void this.reload();
  }

  /** Shows a download that changed or was just queued. */
  add(download: DownloadView): void {
    this.downloads = mergeDownload(this.downloads, download);
    this.show();
  }

  private async reload(): Promise<void> {
    try {
      this.downloads = (await this.props.ctx.store.request('downloads:list', {})).downloads;
      this.show();
    } catch (error) {
      setText(this.el.querySelector('.downloads-empty') as HTMLElement, `Loading the downloads: ${errorMessage(error)}`);
    }
  }

  private async start(repo: string, files: string[], name: string): Promise<void> {
    try {
      this.add((await this.props.ctx.store.request('downloads:start', { repo, files, name })).download);
      this.props.ctx.toasts.info(`Downloading ${name}`);
    } catch (error) {
      this.props.ctx.toasts.error(errorMessage(error));
    }
  }

  private async cancel(id: string): Promise<void> {
    try {
      this.add((await this.props.ctx.store.request('downloads:cancel', { downloadId: id })).download);
    } catch (error) {
      this.props.ctx.toasts.error(errorMessage(error));
    }
  }

  private async retry(id: string): Promise<void> {
    const d = this.downloads.find((x) => x.id === id);
    if (d !== undefined) {
      await this.start(d.repo, d.files, d.name);
    }
  }

  private async load(id: string): Promise<void> {
    const d = this.downloads.find((x) => x.id === id);
    if (d === undefined) {
      return;
    }
    try {
      await this.props.ctx.store.request('models:load', { modelId: d.result?.modelId ?? d.name });
      this.props.ctx.toasts.info(`Loading ${d.name}`);
    } catch (error) {
      this.props.ctx.toasts.error(errorMessage(error));
    }
  }

  private show(): void {
    const shown = this.props.runningOnly ? this.downloads.filter((d) => d.state === 'active' || d.state === 'queued') : this.downloads;
    this.rows.reconcile(shown);
    syncPermissions(this.el, this.props.ctx.store.get('identity'));
    (this.el.querySelector('.downloads-empty') as HTMLElement).hidden = shown.length > 0;
    if (this.props.runningOnly) {
      this.el.hidden = shown.length === 0;
    }
  }
}
