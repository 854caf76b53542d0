import type { CommandRegistry } from './commands.js';
import type { StateManager } from './state-manager.js';

export interface Navigator {
  readonly path: string;
  navigate(path: string): void;
  /** Location href of an app path, for `<a href>`. */
  href(path: string): string;
}

export interface Notifier {
  info(message: string): void;
  success(message: string): void;
  error(message: string): void;
}

/** What every page gets: the state, navigation, toasts and the command registry. */
export interface AppContext {
  store: StateManager;
  router: Navigator;
  toasts: Notifier;
  commands: CommandRegistry;
}
