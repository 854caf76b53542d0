import type { ModelView } from '@llamaproxy/shared';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { field, h, replaceChildren, setText, valueOf } from '../core/dom.js';
import { needs } from '../core/permissions.js';
import { errorMessage } from '../core/transport.js';
import { ChatStreamReader, chatBody, curlCommand, type PlaygroundRequest } from '../lib/api-endpoint.js';
import { formatRate } from '../lib/format.js';
import { confirmLoad } from './models/load-confirm.js';

/** Largest image the playground sends (base64 grows it by a third; the body limit is API_MAX_BODY_MB, 16 MiB by default). */
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;

/**
 * Try a model: system prompt, sampling settings, a prompt; the answer streams in from the
 * dashboard's own `/v1/chat/completions` with the session cookie (no key needed), with live
 * tokens per second (one streamed delta counts as one token while it streams; llama-server's own
 * `timings` figure once it sends it). A multimodal model (one with an mmproj) also takes an
 * image, sent as a data URL in OpenAI's content array. Stop aborts the request, which
 * stops the generation in llama-server. "Copy as curl" gives the same request for a key.
 */
export class PlaygroundPage extends Component<AppContext> {
  private controller: AbortController | null = null;
  /** The chosen image as a data URL, or null. */
  private image: string | null = null;
  private readonly endpoint = new URL('v1', document.baseURI).href;

  protected override render(): HTMLElement {
    return h(
      'div',
      { class: 'page', 'data-page': 'playground' },
      h(
        'form',
        { class: 'card playground-form', novalidate: true, 'aria-label': 'Playground' },
        h(
          'div',
          { class: 'form-grid' },
          field('Model', h('select', { id: 'pg-model', name: 'model' })),
          field('Temperature', h('input', { id: 'pg-temperature', name: 'temperature', type: 'number', min: 0, max: 2, step: 0.1, value: 0.7 })),
          field('Top-p', h('input', { id: 'pg-top-p', name: 'topP', type: 'number', min: 0, max: 1, step: 0.05, value: 0.95 })),
          field('Max tokens', h('input', { id: 'pg-max-tokens', name: 'maxTokens', type: 'number', min: 1, max: 32768, step: 1, value: 256 })),
        ),
        h('p', { class: 'model-state muted' }, h('span', { class: 'state-text' }), ' ', h('button', { type: 'button', class: 'button small', 'data-action': 'load', hidden: true, ...needs('models:load') }, 'Load')),
        field('System prompt', h('textarea', { id: 'pg-system', name: 'system', rows: 2 })),
        h(
          'div',
          { class: 'pg-image' },
          field('Image (multimodal models)', h('input', { id: 'pg-image', name: 'image', type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif' })),
          h('img', { class: 'pg-image-preview', alt: 'The image sent with the prompt', hidden: true }),
          h('button', { type: 'button', class: 'button small', 'data-action': 'clear-image', hidden: true }, 'Remove image'),
          h('p', { class: 'pg-image-note muted' }),
        ),
        field('Prompt', h('textarea', { id: 'pg-user', name: 'user', rows: 4, required: true })),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'button primary', 'data-action': 'run' }, 'Send'),
          h('button', { type: 'button', class: 'button', 'data-action': 'stop', disabled: true }, 'Stop'),
          h('span', { class: 'spacer' }),
          h('span', { class: 'speed muted', 'aria-live': 'off' }),
          h('button', { type: 'button', class: 'button', 'data-action': 'curl' }, 'Copy as curl'),
        ),
      ),
      h('section', { class: 'card', 'aria-label': 'Answer' }, h('pre', { class: 'output', 'aria-live': 'polite' }), h('p', { class: 'problem form-problem', role: 'alert' })),
    );
  }

  protected override events(): EventMap {
    return {
      submit: (e) => {
        e.preventDefault();
        void this.run();
      },
      'change select': () => this.showState(),
      'change input[type="file"]': (_e, target) => void this.pickImage((target as HTMLInputElement).files?.[0] ?? null),
      'click [data-action="clear-image"]': () => void this.pickImage(null),
      'click [data-action="stop"]': () => this.controller?.abort(),
      'click [data-action="load"]': () => void this.load(),
      'click [data-action="curl"]': () => {
        const command = curlCommand(this.endpoint, this.request());
        void navigator.clipboard?.writeText(command).then(() => this.props.toasts.success('curl command copied (set LLAMAPROXY_API_KEY)'));
      },
    };
  }

  protected override onMount(): void {
    this.own(this.props.store.subscribe('models', (models) => this.showModels(models), true));
    this.own(() => this.controller?.abort());
  }

  private showModels(models: readonly ModelView[]): void {
    const select = this.el.querySelector('select[name="model"]') as HTMLSelectElement;
    const current = select.value;
    const ids = [...new Set(models.map((m) => m.id))].sort();
    if (ids.join('\n') !== [...select.options].map((o) => o.value).join('\n')) {
      replaceChildren(select, ids.map((id) => h('option', { value: id }, id)));
      if (ids.includes(current)) {
        select.value = current;
      }
    }
    this.showState();
  }

  private showState(): void {
    const id = (this.el.querySelector('select[name="model"]') as HTMLSelectElement).value;
    const model = this.props.store.get('models').find((m) => m.id === id);
    // An image goes only to a model with a projector (mmproj); llama-server refuses it otherwise.
    const multimodal = model?.mmproj !== null && model?.mmproj !== undefined;
    setText(this.el.querySelector('.pg-image-note') as HTMLElement,
      this.image === null ? '' : multimodal ? '' : `${id} has no multimodal projector (mmproj): llama-server will refuse the image.`);
    const status = model?.state.status ?? 'unknown';
    setText(this.el.querySelector('.state-text') as HTMLElement, id === '' ? 'No model in the models folder.' : `State: ${status}`);
    (this.el.querySelector('[data-action="load"]') as HTMLElement).hidden = status !== 'unloaded' && status !== 'error';
  }

  /** Reads the chosen image as a data URL (shown as a preview); null removes it. */
  private async pickImage(file: File | null): Promise<void> {
    const preview = this.el.querySelector('.pg-image-preview') as HTMLImageElement;
    const note = this.el.querySelector('.pg-image-note') as HTMLElement;
    if (file === null) {
      this.image = null;
      (this.el.querySelector('input[type="file"]') as HTMLInputElement).value = '';
    } else if (file.size > MAX_IMAGE_BYTES) {
      this.image = null;
      setText(note, `The image is over ${MAX_IMAGE_BYTES / 1024 / 1024} MiB; choose a smaller one.`);
      return;
    } else {
      this.image = await new Promise<string | null>((resolve) => {
        const reader = new FileReader();
        reader.onload = () => resolve(typeof reader.result === 'string' ? reader.result : null);
        reader.onerror = () => resolve(null);
        reader.readAsDataURL(file);
      });
    }
    preview.hidden = this.image === null;
    (this.el.querySelector('[data-action="clear-image"]') as HTMLElement).hidden = this.image === null;
    if (this.image !== null) {
      preview.src = this.image;
    } else {
      preview.removeAttribute('src');
    }
    this.showState();
  }

  private async load(): Promise<void> {
    const modelId = (this.el.querySelector('select[name="model"]') as HTMLSelectElement).value;
    const model = this.props.store.get('models').find((m) => m.id === modelId);
    // Placement (#14): tell which models the load would unload before it acts.
    if (model !== undefined && !(await confirmLoad(this.props, model))) {
      return;
    }
    try {
      await this.props.store.request('models:load', { modelId });
      this.props.toasts.info(`Loading ${modelId}…`);
    } catch (error) {
      this.props.toasts.error(errorMessage(error));
    }
  }

  private request(): PlaygroundRequest {
    const form = this.el.querySelector('.playground-form') as HTMLFormElement;
    const value = (name: string): string => valueOf(form.elements.namedItem(name) as Element);
    const num = (name: string, fallback: number): number => (Number.isFinite(Number(value(name))) && value(name) !== '' ? Number(value(name)) : fallback);
    return { model: value('model'), system: value('system'), user: value('user'), temperature: num('temperature', 0.7), topP: num('topP', 0.95), maxTokens: Math.round(num('maxTokens', 256)), image: this.image };
  }

  private async run(): Promise<void> {
    const request = this.request();
    const output = this.el.querySelector('.output') as HTMLElement;
    const problem = this.el.querySelector('.problem') as HTMLElement;
    const speed = this.el.querySelector('.speed') as HTMLElement;
    if (request.model === '' || request.user.trim() === '') {
      setText(problem, 'Choose a model and write a prompt.');
      return;
    }
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.busy(true);
    setText(output, '');
    setText(problem, '');
    setText(speed, '');
    let text = '';
    let tokens = 0;
    let first = 0;
    try {
      const res = await fetch(`${this.endpoint}/chat/completions`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chatBody(request)),
        signal: controller.signal,
      });
      if (!res.ok || res.body === null) {
        const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new Error(body?.error?.message ?? `the endpoint answered ${res.status}`);
      }
      const reader = new ChatStreamReader();
      const decoder = new TextDecoder();
      const stream = res.body.getReader();
      for (;;) {
        const { done, value } = await stream.read();
        if (done) {
          break;
        }
        const deltas = reader.push(decoder.decode(value, { stream: true }));
        if (deltas.length > 0) {
          first ||= performance.now();
          tokens += deltas.length;
          text += deltas.join('');
          setText(output, text);
          const seconds = (performance.now() - first) / 1000;
          setText(speed, seconds > 0 ? formatRate(tokens / seconds) : '');
        }
      }
      // The server's measure, when it sent one, is the true figure (and exists for one-chunk answers).
      if (reader.serverTokensPerSec !== null) {
        setText(speed, formatRate(reader.serverTokensPerSec));
      }
    } catch (error) {
      if (!controller.signal.aborted) {
        setText(problem, errorMessage(error));
      } else {
        setText(problem, 'Stopped.');
      }
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        this.busy(false);
      }
    }
  }

  private busy(on: boolean): void {
    (this.el.querySelector('[data-action="run"]') as HTMLButtonElement).disabled = on;
    (this.el.querySelector('[data-action="stop"]') as HTMLButtonElement).disabled = !on;
  }
}
