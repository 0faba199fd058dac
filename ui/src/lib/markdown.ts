// A very small Markdown reader for the privacy policy: headings, paragraphs
// and bullet lists, rendered by Svelte (never as HTML, so nothing in the text
// can run).

export type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] };

/** Drops inline markers (**bold**, _em_, `code`, [text](url) → text). */
export function plainInline(text: string): string {
  return text
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(\*|_)(\S.*?\S|\S)\1/g, '$2')
    .replace(/`([^`]+)`/g, '$1');
}

export function parseMarkdown(source: string): Block[] {
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  let list: string[] | null = null;
  const flush = () => {
    if (paragraph.length) blocks.push({ kind: 'paragraph', text: plainInline(paragraph.join(' ')) });
    paragraph = [];
    if (list) blocks.push({ kind: 'list', items: list });
    list = null;
  };
  for (const raw of source.replace(/\r\n?/g, '\n').split('\n')) {
    const line = raw.trim();
    if (!line) {
      flush();
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: 'heading', level: heading[1].length, text: plainInline(heading[2]) });
      continue;
    }
    const item = /^([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (item) {
      if (paragraph.length) {
        blocks.push({ kind: 'paragraph', text: plainInline(paragraph.join(' ')) });
        paragraph = [];
      }
      list = list ?? [];
      list.push(plainInline(item[2]));
      continue;
    }
    if (list) {
      // A continuation line of the last item.
      list[list.length - 1] += ` ${plainInline(line)}`;
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return blocks;
}
