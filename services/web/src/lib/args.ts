/**
 * Extra llama-server arguments are stored one token per element. In the form they are one line
 * of shell-like text: tokens split on whitespace, double quotes keep spaces together.
 */
export function splitArgs(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quoted = false;
  let hasToken = false;
  for (const ch of text) {
    if (ch === '"') {
      quoted = !quoted;
      hasToken = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (hasToken) {
        tokens.push(current);
      }
      current = '';
      hasToken = false;
    } else {
      current += ch;
      hasToken = true;
    }
  }
  if (hasToken) {
    tokens.push(current);
  }
  return tokens;
}

export function joinArgs(tokens: readonly string[]): string {
  return tokens.map((t) => (t === '' || /[\s"]/.test(t) ? `"${t.replace(/"/g, '')}"` : t)).join(' ');
}
