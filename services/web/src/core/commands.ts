/**
 * Commands shown in the palette (Ctrl+K); those with `keys` are also keyboard shortcuts.
 * Keys are a chord ("mod+k", "/", "?") or a two-step sequence ("g m"); "mod" is Ctrl or ⌘.
 * Single-key shortcuts do not fire while the user types in a field.
 */
import { isTyping } from './dom.js';

export interface Command {
  id: string;
  title: string;
  group: string;
  keys?: string;
  run(): void;
}

export type CommandSource = readonly Command[] | (() => readonly Command[]);

const SEQUENCE_MS = 1500;

/** "mod+k", "alt+1", "g", "?" for a key event. */
export function chordOf(event: KeyboardEvent): string {
  return `${event.ctrlKey || event.metaKey ? 'mod+' : ''}${event.altKey ? 'alt+' : ''}${event.key.toLowerCase()}`;
}

export class CommandRegistry {
  private readonly sources = new Set<CommandSource>();
  private pending: { chord: string; at: number } | null = null;

  /** Adds commands (or a function that lists them when asked); returns the removal. */
  add(source: CommandSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  all(): Command[] {
    return [...this.sources].flatMap((s) => (typeof s === 'function' ? s() : s));
  }

  /** Runs the command bound to this key event, if any. Returns true when one ran. */
  handleKey(event: KeyboardEvent, now = Date.now()): boolean {
    if (event.isComposing || event.repeat) {
      return false;
    }
    const chord = chordOf(event);
    if (['control', 'meta', 'shift', 'alt'].includes(event.key.toLowerCase())) {
      return false;
    }
    if (isTyping(event.target) && !chord.startsWith('mod+') && chord !== 'escape') {
      return false;
    }
    const bound = this.all().filter((c) => c.keys !== undefined);
    const previous = this.pending !== null && now - this.pending.at < SEQUENCE_MS ? this.pending.chord : null;
    this.pending = null;
    const wanted = previous === null ? [chord] : [`${previous} ${chord}`, chord];
    for (const keys of wanted) {
      const command = bound.find((c) => c.keys === keys);
      if (command) {
        event.preventDefault();
        command.run();
        return true;
      }
    }
    if (bound.some((c) => c.keys?.startsWith(`${chord} `))) {
      this.pending = { chord, at: now };
    }
    return false;
  }
}
