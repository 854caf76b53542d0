import type { HfFileGroup, HfModelSummary, ModelView } from '@llamaproxy/shared';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { field, h, replaceChildren, setText, valueOf } from '../core/dom.js';
import { can, needs, watchPermissions } from '../core/permissions.js';
import { errorMessage } from '../core/transport.js';
import { formatBytes, formatCount, formatDateTime } from '../lib/format.js';
import { fitsText } from './get-models/download-text.js';
import { DownloadsPanel } from './get-models/downloads-panel.js';

/**
 * Get models from Hugging Face: search GGUF repositories, open one to see its files grouped as
 * the router will see them (one row per quantization, split sets as one, projectors apart; marked
 * by whether they fit the node's memory), download a row into the models directory with progress,
 * cancel and retry; the downloaded model can be loaded at once. Admins delete models here too.
 */
export class GetModelsPage extends Component<AppContext> {
  private panel: DownloadsPanel | null = null;
  private repo: string | null = null;
  private groups: HfFileGroup[] = [];

  protected override render(): HTMLElement {
    const page = h(
      'div',
      { class: 'page', 'data-page': 'get-models' },
      h(
        'form',
        { class: 'card hf-search', 'aria-label': 'Search Hugging Face', ...needs('hf:search') },
        h('h2', null, 'Search Hugging Face'),
        h(
          'div',
          { class: 'form-row' },
          field('Model name', h('input', { id: 'hf-query', name: 'query', type: 'search', placeholder: 'e.g. qwen3 8b', autocomplete: 'off', spellcheck: 'false', maxlength: 200 })),
          h('button', { type: 'submit', class: 'button primary' }, 'Search'),
        ),
        h('p', { class: 'problem search-problem', role: 'alert' }),
        h(
          'table',
          { class: 'table hf-results' },
          h('thead', null, h('tr', null, ['Repository', 'Downloads', 'Likes', 'Updated', ''].map((label) => h('th', { scope: 'col' }, label)))),
          h('tbody'),
        ),
      ),
      h(
        'section',
        { class: 'card hf-repo', hidden: true, 'aria-label': 'Repository files' },
        h('h2', { class: 'repo-title' }),
        h('p', { class: 'muted' }, 'One row per model as llama-server will see it (a split set is one row). "Fits" compares the file size, with room for the context, to the node’s memory.'),
        h('p', { class: 'problem repo-problem', role: 'alert' }),
        h(
          'table',
          { class: 'table hf-groups' },
          h('thead', null, h('tr', null, ['Quantization', 'Files', 'Size', 'Fits', 'Model name', 'Projector', ''].map((label) => h('th', { scope: 'col' }, label)))),
          h('tbody'),
        ),
      ),
      h(
        'section',
        { class: 'card installed', 'aria-label': 'Installed models', ...needs('models:delete') },
        h('h2', null, 'Installed models'),
        h('p', { class: 'muted' }, 'Deleting removes the model’s file or folder from the models directory. A loaded model must be unloaded first.'),
        h('table', { class: 'table installed-models' }, h('tbody')),
      ),
    );
    return page;
  }

  protected override events(): EventMap {
    return {
      'submit .hf-search': (e) => {
        e.preventDefault();
        void this.search();
      },
      'click [data-action="open-repo"]': (_e, target) => void this.openRepo(target.dataset.repo ?? ''),
      'click [data-action="download"]': (_e, target) => void this.download(target.dataset.key ?? ''),
      'click [data-action="delete"]': (_e, target) => void this.remove(target.dataset.model ?? ''),
    };
  }

  protected override onMount(): void {
    const { store } = this.props;
    this.own(watchPermissions(store, this.el));
    this.own(store.subscribe('models', (models) => this.showInstalled(models), true));
    this.panel = this.adopt(new DownloadsPanel({ ctx: this.props, runningOnly: false }), this.el, this.el.querySelector('.installed'));
  }

  private async search(): Promise<void> {
    const query = valueOf(this.el.querySelector('#hf-query') as Element).trim();
    const problem = this.el.querySelector('.search-problem') as HTMLElement;
    const body = this.el.querySelector('.hf-results tbody') as HTMLElement;
    try {
      const { results } = await this.props.store.request('hf:search', { query, limit: 20 });
      setText(problem, results.length === 0 ? 'No GGUF repository matches.' : '');
      replaceChildren(body, results.map((r) => this.resultRow(r)));
    } catch (error) {
      setText(problem, errorMessage(error));
    }
  }

  private resultRow(r: HfModelSummary): HTMLElement {
    return h(
      'tr',
      { 'data-repo': r.id },
      h('td', null, h('span', { class: 'repo-id' }, r.id), r.gated ? h('span', { class: 'badge', 'data-tone': 'warn', title: 'Needs HF_TOKEN with access granted' }, 'gated') : null, r.private ? h('span', { class: 'badge' }, 'private') : null),
      h('td', null, formatCount(r.downloads)),
      h('td', null, formatCount(r.likes)),
      h('td', null, r.lastModified === null ? '—' : formatDateTime(Date.parse(r.lastModified))),
      h('td', null, h('button', { type: 'button', class: 'button small', 'data-action': 'open-repo', 'data-repo': r.id }, 'Files')),
    );
  }

  private async openRepo(repo: string): Promise<void> {
    const section = this.el.querySelector('.hf-repo') as HTMLElement;
    const problem = this.el.querySelector('.repo-problem') as HTMLElement;
    const body = this.el.querySelector('.hf-groups tbody') as HTMLElement;
    section.hidden = false;
    setText(this.el.querySelector('.repo-title') as HTMLElement, repo);
    replaceChildren(body);
    this.repo = repo;
    try {
      const { groups } = await this.props.store.request('hf:files', { repo });
      this.groups = groups;
      setText(problem, '');
      const projectors = groups.filter((g) => g.kind === 'mmproj');
      replaceChildren(body, groups.filter((g) => g.kind === 'model').map((g) => this.groupRow(g, projectors)));
    } catch (error) {
      this.groups = [];
      setText(problem, errorMessage(error));
    }
  }

  private groupRow(g: HfFileGroup, projectors: HfFileGroup[]): HTMLElement {
    const canDownload = can(this.props.store.get('identity'), 'downloads:start');
    return h(
      'tr',
      { 'data-key': g.key, 'data-fits': String(g.fits) },
      h('td', null, g.quantization ?? '—'),
      h('td', null, g.files.length === 1 ? '1 file' : `${g.files.length} shards${g.complete ? '' : ' (incomplete)'}`),
      h('td', null, formatBytes(g.sizeBytes)),
      h('td', null, h('span', { class: 'badge', 'data-tone': g.fits === null ? 'info' : g.fits ? 'ok' : 'bad' }, fitsText(g))),
      h('td', null, h('input', { class: 'model-name', 'aria-label': `Model name for ${g.key}`, value: g.suggestedName, maxlength: 200, spellcheck: 'false' })),
      h(
        'td',
        null,
        projectors.length === 0
          ? '—'
          : h('select', { class: 'projector', 'aria-label': `Projector for ${g.key}` }, h('option', { value: '' }, 'none'), projectors.map((p) => h('option', { value: p.files[0]?.path ?? '' }, `${p.files[0]?.path ?? ''} (${formatBytes(p.sizeBytes)})`))),
      ),
      h('td', null, canDownload && g.complete ? h('button', { type: 'button', class: 'button small primary', 'data-action': 'download', 'data-key': g.key }, 'Download') : null),
    );
  }

  private async download(key: string): Promise<void> {
    const group = this.groups.find((g) => g.key === key);
    const row = [...this.el.querySelectorAll<HTMLElement>('.hf-groups tr[data-key]')].find((r) => r.dataset.key === key);
    if (group === undefined || row === undefined || this.repo === null) {
      return;
    }
    const name = valueOf(row.querySelector('.model-name') as Element).trim();
    const projector = row.querySelector('.projector');
    const files = [...group.files.map((f) => f.path), ...(projector !== null && valueOf(projector) !== '' ? [valueOf(projector)] : [])];
    try {
      const { download } = await this.props.store.request('downloads:start', { repo: this.repo, files, name });
      this.panel?.add(download);
      this.props.toasts.info(`Downloading ${download.name}`);
    } catch (error) {
      this.props.toasts.error(errorMessage(error));
    }
  }

  private async remove(modelId: string): Promise<void> {
    if (modelId === '' || !window.confirm(`Delete the model "${modelId}"? Its files are removed from the models directory; this cannot be undone.`)) {
      return;
    }
    try {
      await this.props.store.request('models:delete', { modelId });
      this.props.toasts.success(`Deleting ${modelId}`);
    } catch (error) {
      this.props.toasts.error(errorMessage(error));
    }
  }

  private showInstalled(models: ModelView[]): void {
    const body = this.el.querySelector('.installed-models tbody') as HTMLElement;
    replaceChildren(
      body,
      models.map((m) =>
        h(
          'tr',
          { 'data-model': m.id },
          h('td', null, m.id),
          h('td', null, m.path),
          h('td', null, formatBytes(m.sizeBytes)),
          h('td', null, m.state.status),
          h('td', null, h('button', { type: 'button', class: 'button small danger', 'data-action': 'delete', 'data-model': m.id, disabled: m.state.status === 'loaded' || m.state.status === 'loading' }, 'Delete')),
        ),
      ),
    );
  }
}
