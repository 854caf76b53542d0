import { lookup } from 'node:dns/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';

type Trust = (addr: string, i: number) => boolean;

/** How often host names in INTERNAL_PROXIES are looked up again (a recreated container gets a new address). */
const REFRESH_MS = 30_000;

/**
 * Which peers' forwarding headers are believed, in two tiers:
 * - internal hops (INTERNAL_PROXIES: the stack's own web container, by name or address) pass
 *   requests through and are transparent: they add X-Forwarded-For but never vouch for a user;
 * - trusted proxies (TRUSTED_PROXIES: the operator's reverse proxy or authentication proxy).
 * Entries are addresses, CIDRs or proxy-addr's names (`loopback`, `linklocal`, `uniquelocal`);
 * internal entries may also be host names, resolved now and every 30 s.
 */
export class ProxyTrust {
  private readonly trusted: Trust;
  private readonly internalSpecs: string[];
  private readonly internalNames: string[];
  private internal: Trust;
  private all: Trust;
  private timer: NodeJS.Timeout | null = null;

  constructor(trusted: readonly string[], internal: readonly string[] = []) {
    this.trusted = proxyAddr.compile([...trusted]);
    const isName = (entry: string): boolean => isIP(entry.split('/')[0] ?? '') === 0 && !['loopback', 'linklocal', 'uniquelocal'].includes(entry);
    this.internalSpecs = internal.filter((e) => !isName(e));
    this.internalNames = internal.filter(isName);
    this.internal = proxyAddr.compile(this.internalSpecs);
    this.all = this.combine();
  }

  /** Resolves internal host names (unresolvable ones are skipped until they resolve) and keeps refreshing. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.internalNames.length > 0) {
      this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
    }
  }

  /** True when X-Forwarded-* from this TCP peer are believed (internal hop or trusted proxy). */
  forwards(peer: string): boolean {
    return this.all(peer, 0);
  }

  /** The client's address: the peer, or the X-Forwarded-For entry the believed hops point to. */
  clientAddress(headers: IncomingHttpHeaders, peer: string): string {
    return proxyAddr(request(headers, peer), this.all);
  }

  /**
   * True when identity headers can be believed: past the internal hops, the first hop must be a
   * trusted proxy. A request sent straight to the web container (no trusted proxy on the way)
   * fails, however its headers are forged.
   */
  vouchedByTrustedProxy(headers: IncomingHttpHeaders, peer: string): boolean {
    const chain = proxyAddr.all(request(headers, peer), this.all);
    const firstOutside = chain.find((addr, i) => !this.internal(addr, i));
    return firstOutside !== undefined && this.trusted(firstOutside, 0);
  }

  private async refresh(): Promise<void> {
    const resolved: string[] = [];
    for (const name of this.internalNames) {
      const found = await lookup(name, { all: true }).catch(() => []);
      resolved.push(...found.map((a) => a.address));
    }
    this.internal = proxyAddr.compile([...this.internalSpecs, ...resolved]);
    this.all = this.combine();
  }

  private combine(): Trust {
    return (addr, i) => this.internal(addr, i) || this.trusted(addr, i);
  }
}

function request(headers: IncomingHttpHeaders, peer: string): Parameters<typeof proxyAddr>[0] {
  return { headers, connection: { remoteAddress: peer } } as Parameters<typeof proxyAddr>[0];
}
