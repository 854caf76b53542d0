// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { CommandRegistry } from './commands.js';

const key = (k: string, init: KeyboardEventInit = {}) => new KeyboardEvent('keydown', { key: k, cancelable: true, ...init });

describe(CommandRegistry.name, () => {
  it('runs chords and two-step sequences', () => {
    const sut = new CommandRegistry();
    const palette = vi.fn();
    const models = vi.fn();
    sut.add([
      { id: 'p', title: 'Palette', group: 'x', keys: 'mod+k', run: palette },
      { id: 'm', title: 'Models', group: 'x', keys: 'g m', run: models },
    ]);

    expect(sut.handleKey(key('k', { ctrlKey: true }))).toBe(true);
    sut.handleKey(key('g'), 1000);
    sut.handleKey(key('m'), 1500);

    expect(palette).toHaveBeenCalledTimes(1);
    expect(models).toHaveBeenCalledTimes(1);
  });

  it('forgets a sequence after a pause and ignores single keys while typing', () => {
    const sut = new CommandRegistry();
    const run = vi.fn();
    sut.add([{ id: 'm', title: 'Models', group: 'x', keys: 'g m', run }]);
    sut.handleKey(key('g'), 0);
    sut.handleKey(key('m'), 5000);

    const input = document.createElement('input');
    document.body.append(input);
    const typed = key('g', { bubbles: true });
    input.dispatchEvent(typed);
    expect(sut.handleKey(typed)).toBe(false);
    expect(run).not.toHaveBeenCalled();
  });

  it('lists commands from providers when asked', () => {
    const sut = new CommandRegistry();
    let n = 1;
    const remove = sut.add(() => Array.from({ length: n }, (_, i) => ({ id: `${i}`, title: `${i}`, group: 'g', run: () => {} })));
    n = 3;
    expect(sut.all()).toHaveLength(3);
    remove();
    expect(sut.all()).toHaveLength(0);
  });
});
