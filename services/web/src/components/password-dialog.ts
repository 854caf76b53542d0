import { Component, type EventMap } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import { newPasswordProblem } from '../lib/credential-rules.js';

export interface PasswordDialogProps {
  title: string;
  /** Also asks for the current password (changing one's own). */
  askCurrent: boolean;
  submitLabel: string;
  /** Sends the change; resolves with a message for the user when it failed, null when done. */
  onSubmit(next: string, current: string): Promise<string | null>;
}

/**
 * A new password typed twice (and the current one when it is one's own), checked with the shared
 * rules. Loaded on demand: it imports the shared schemas (zod).
 */
export class PasswordDialog extends Component<PasswordDialogProps> {
  private current!: HTMLInputElement;
  private next!: HTMLInputElement;
  private again!: HTMLInputElement;
  private problem!: HTMLElement;
  private submit!: HTMLButtonElement;

  protected override render(): HTMLElement {
    const { title, askCurrent, submitLabel } = this.props;
    this.current = h('input', { id: 'pw-current', type: 'password', autocomplete: 'current-password' });
    this.next = h('input', { id: 'pw-next', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'pw-next-hint' });
    this.again = h('input', { id: 'pw-again', type: 'password', autocomplete: 'new-password' });
    this.problem = h('p', { class: 'problem form-problem', role: 'alert' });
    this.submit = h('button', { type: 'submit', class: 'button primary' }, submitLabel);
    const field = (label: string, input: HTMLInputElement, hint?: string) =>
      h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hint === undefined ? null : h('span', { class: 'hint', id: `${input.id}-hint` }, hint));
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'pw-title' },
      h(
        'form',
        { class: 'stack', novalidate: true },
        h('h2', { id: 'pw-title' }, title),
        askCurrent ? field('Current password', this.current) : null,
        field('New password', this.next, 'At least 10 characters'),
        field('New password again', this.again),
        this.problem,
        h('div', { class: 'actions' }, this.submit, h('button', { type: 'button', class: 'button', 'data-action': 'close' }, 'Cancel')),
      ),
    );
    dialog.addEventListener('close', () => this.destroy());
    return dialog;
  }

  protected override events(): EventMap {
    return {
      'click [data-action="close"]': () => (this.el as HTMLDialogElement).close(),
      'submit form': (e) => {
        e.preventDefault();
        void this.send();
      },
    };
  }

  open(): void {
    document.body.append(this.el);
    (this.el as HTMLDialogElement).showModal();
    (this.props.askCurrent ? this.current : this.next).focus();
  }

  private async send(): Promise<void> {
    const problem = (this.props.askCurrent && this.current.value === '' ? 'Enter the current password' : null) ?? newPasswordProblem(this.next.value, this.again.value);
    setText(this.problem, problem ?? '');
    if (problem !== null) {
      return;
    }
    this.submit.disabled = true;
    const failure = await this.props.onSubmit(this.next.value, this.current.value);
    if (this.isDestroyed) {
      return;
    }
    this.submit.disabled = false;
    if (failure === null) {
      (this.el as HTMLDialogElement).close();
    } else {
      setText(this.problem, failure);
    }
  }
}
