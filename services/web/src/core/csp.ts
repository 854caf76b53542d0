/**
 * The dashboard runs under a Content-Security-Policy without `'unsafe-eval'` (nginx and the
 * gateway send it). zod compiles object parsers with `new Function` unless it is `jitless`, and
 * its probe for whether that is allowed is reported as a CSP violation even though zod catches
 * the error. zod reads its global configuration from `globalThis.__zod_globalConfig` (creating it
 * when it loads, in a lazy chunk after this runs); setting the flag on that object works whether
 * zod has loaded yet or not, without pulling zod into the initial bundle.
 */
export function makeZodJitless(): void {
  const g = globalThis as { __zod_globalConfig?: { jitless?: boolean } };
  g.__zod_globalConfig ??= {};
  g.__zod_globalConfig.jitless = true;
}
