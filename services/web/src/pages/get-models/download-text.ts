import type { DownloadView, HfFileGroup } from '@llamaproxy/shared';
import { formatBytes, formatDuration } from '../../lib/format.js';

/** 0..1 done of a download, or null while its size is unknown (queued, checking). */
export function downloadFraction(d: Pick<DownloadView, 'state' | 'progress'>): number | null {
  if (d.state === 'completed') {
    return 1;
  }
  const p = d.progress;
  return p === null || p.bytesTotal === 0 ? null : Math.min(1, p.bytesDone / p.bytesTotal);
}

/**
 * One line for a download: "12.0 MiB of 40.0 MiB · 2.00 MiB/s · 14s left" while it runs, the
 * outcome once it ended.
 */
export function downloadLine(d: Pick<DownloadView, 'state' | 'progress' | 'result' | 'error'>): string {
  switch (d.state) {
    case 'completed':
      return d.result === null ? 'done' : `done: ${formatBytes(d.result.bytes)}${d.result.resumedBytes > 0 ? ` (resumed after ${formatBytes(d.result.resumedBytes)})` : ''}`;
    case 'failed':
    case 'cancelled':
      return d.error === null ? d.state : `${d.error.code}: ${d.error.message}`;
    case 'queued':
      return d.error === null ? 'queued' : `retrying after ${d.error.code}: ${d.error.message}`;
    case 'active': {
      const p = d.progress;
      if (p === null || p.bytesTotal === 0) {
        return 'checking the repository…';
      }
      const parts = [`${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`];
      if (p.stage === 'downloading') {
        parts.push(`${formatBytes(p.bytesPerSec)}/s`, p.etaSec === null ? 'time left unknown' : `${formatDuration(p.etaSec)} left`);
      } else {
        parts.push(p.stage);
      }
      return parts.join(' · ');
    }
  }
}

/** "fits", "too large" or "unknown" for a row (the node's memory, see fitsNodeMemory). */
export function fitsText(group: Pick<HfFileGroup, 'fits'>): string {
  return group.fits === null ? 'unknown' : group.fits ? 'fits' : 'too large';
}

/** Downloads by id with one changed or added, running and queued first, then newest first. */
export function mergeDownload(list: readonly DownloadView[], changed: DownloadView): DownloadView[] {
  const next = list.some((d) => d.id === changed.id) ? list.map((d) => (d.id === changed.id ? changed : d)) : [changed, ...list];
  const rank = (d: DownloadView): number => (d.state === 'active' ? 0 : d.state === 'queued' ? 1 : 2);
  return next.sort((a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt);
}
