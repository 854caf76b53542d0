// Values the integration run's global setup provides to every test file (vitest `inject`).
declare module 'vitest' {
  export interface ProvidedContext {
    /** One Redis for the whole integration run; tests isolate themselves with unique prefixes and ids. */
    redisUrl: string;
    llamaServerBin: string;
  }
}

export {};
