/** Toasts for things that go wrong on the server side: a model failing to load, a crash. */
import type { Notifier } from './context.js';
import type { StateManager } from './state-manager.js';

export function watchFailures(store: StateManager, toasts: Notifier): void {
  store.subscribe('models', (models, previous) => {
    const before = new Map(previous.map((m) => [`${m.nodeId}/${m.id}`, m.state.status]));
    for (const m of models) {
      const was = before.get(`${m.nodeId}/${m.id}`);
      if (m.state.status === 'error' && was !== undefined && was !== 'error') {
        toasts.error(`${m.id} failed: ${m.state.error?.message ?? 'unknown reason'}`);
      }
    }
  });
  store.subscribe('llama', (nodes, previous) => {
    const before = new Map(previous.map((s) => [s.nodeId, s.state]));
    for (const s of nodes) {
      const was = before.get(s.nodeId);
      if ((s.state === 'crashed' || s.state === 'failed') && was !== undefined && was !== s.state) {
        toasts.error(`llama-server on ${s.nodeId} ${s.state}`);
      }
    }
  });
}
