/**
 * Scores how well `query` matches `text` as a subsequence (case-insensitive): null when it does
 * not match, higher when letters start words or follow each other. Each letter prefers the next
 * word start over the next plain occurrence, so "go mod" finds "Go to Models".
 */
export function fuzzyScore(query: string, text: string): number | null {
  const q = query.trim().toLowerCase().replace(/\s+/g, '');
  if (q === '') {
    return 0;
  }
  const t = text.toLowerCase();
  let score = 0;
  let from = 0;
  let previous = -2;
  for (const ch of q) {
    const consecutive = t[previous + 1] === ch ? previous + 1 : -1;
    const wordStart = findWordStart(t, ch, from);
    const at = consecutive >= 0 ? consecutive : wordStart >= 0 ? wordStart : t.indexOf(ch, from);
    if (at < 0) {
      return null;
    }
    score += at === previous + 1 ? 3 : 1;
    if (isWordStart(t, at)) {
      score += 2;
    }
    previous = at;
    from = at + 1;
  }
  return score - t.length / 100;
}

function isWordStart(t: string, i: number): boolean {
  return i === 0 || /[\s:/._-]/.test(t[i - 1] ?? '');
}

function findWordStart(t: string, ch: string, from: number): number {
  for (let i = t.indexOf(ch, from); i >= 0; i = t.indexOf(ch, i + 1)) {
    if (isWordStart(t, i)) {
      return i;
    }
  }
  return -1;
}

/** Items matching `query`, best first; titles count more than the rest of the text. */
export function fuzzyFilter<T>(items: readonly T[], query: string, title: (item: T) => string, extra: (item: T) => string = () => ''): T[] {
  return items
    .map((item) => {
      const own = fuzzyScore(query, title(item));
      const wide = fuzzyScore(query, `${extra(item)} ${title(item)}`);
      return { item, score: own !== null ? own + 5 : wide };
    })
    .filter((x): x is { item: T; score: number } => x.score !== null)
    .sort((a, b) => b.score - a.score)
    .map((x) => x.item);
}
