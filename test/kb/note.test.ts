import { describe, expect, it } from 'vitest';
import { chunkMarkdown } from '../../src/kb/chunk.js';
import { checkNotePath, notePath, parseNote, renderNote, slugify } from '../../src/kb/note.js';
import { withoutCredentials } from '../../src/util/credentials.js';

const meta = {
  title: 'Quarterly plan: Q3 — “ambitious”',
  category: 'Work / Projects',
  tags: ['plan', 'q3'],
  createdAt: '2026-07-01T09:30:00.000Z',
  source: 'telegram',
  owner: 'tg-1',
  sourceId: 'tg:1:42',
};

describe('note files', () => {
  it('puts a note at topics/<category>/<date>-<slug>.md, numbering repeats', () => {
    expect(notePath(meta)).toBe('topics/work-projects/2026-07-01-quarterly-plan-q3-ambitious.md');
    expect(notePath(meta, 3)).toBe('topics/work-projects/2026-07-01-quarterly-plan-q3-ambitious-3.md');
    expect(notePath({ ...meta, title: '!!!', category: '' })).toBe('topics/general/2026-07-01-note.md');
    expect(slugify('Ünïcödé café ÀÉÎ')).toBe('unicode-cafe-aei');
    expect(slugify('../../etc/passwd')).toBe('etc-passwd');
  });

  it('renders frontmatter that parses back to the same fields and body', () => {
    const text = renderNote(meta, '# Plan\n\nShip it: yes.\n');
    expect(text.startsWith('---\ntitle:')).toBe(true);
    const note = parseNote('topics/work-projects/x.md', text, 'default', '2000-01-01T00:00:00.000Z');
    expect(note).toMatchObject({ ...meta, category: 'work-projects', body: '# Plan\n\nShip it: yes.' });
  });

  it('reads hand-written notes without frontmatter: title from the heading, category from the folder', () => {
    const note = parseNote(
      'topics/recipes/soup.md',
      '# Tomato soup\n\nRoast the tomatoes.',
      'me',
      '2026-01-02T00:00:00.000Z',
    );
    expect(note).toMatchObject({ title: 'Tomato soup', category: 'recipes', owner: 'me', source: 'file', tags: [] });
    expect(note.createdAt).toBe('2026-01-02T00:00:00.000Z');
    expect(parseNote('topics/x/plain.md', 'just text', 'me', 'now').title).toBe('plain');
  });

  it('refuses frontmatter that is not a YAML mapping, saying which file', () => {
    expect(() => parseNote('topics/a/b.md', '---\ntitle: [unclosed\n---\nbody', 'me', 'now')).toThrow(
      /topics\/a\/b\.md/,
    );
    expect(() => parseNote('topics/a/b.md', '---\n- a list\n---\nbody', 'me', 'now')).toThrow(/mapping/);
  });

  it('refuses paths that could leave the repository or are not notes', () => {
    for (const bad of [
      '../secrets.md',
      'topics/../../etc/passwd.md',
      '/etc/passwd.md',
      'topics\\work\\x.md',
      'topics/work/x.md\u0000.txt',
      'topics//x.md',
      'topics/./x.md',
      'topics/work/x.txt',
      '',
    ]) {
      expect(() => checkNotePath(bad), bad).toThrow(/not a note path/);
    }
    expect(checkNotePath('topics/work/2026-01-01-plan.md')).toBe('topics/work/2026-01-01-plan.md');
  });

  it('never shows the credentials of a remote URL in a push error', () => {
    expect(withoutCredentials("fatal: unable to access 'https://bob:ghp_secret@github.com/bob/notes.git/'")).toBe(
      "fatal: unable to access 'https://***@github.com/bob/notes.git/'",
    );
  });
});

describe('chunking markdown', () => {
  it('makes one chunk per section, each led by its heading path', () => {
    const chunks = chunkMarkdown(
      'Garden',
      'Intro text.\n\n## Spring\nSow peas.\n\n### Under glass\nTomatoes in February.\n\n## Autumn\nPlant garlic.',
    );
    expect(chunks.map((chunk) => chunk.heading)).toEqual([
      'Garden',
      'Garden › Spring',
      'Garden › Spring › Under glass',
      'Garden › Autumn',
    ]);
    expect(chunks[2]?.content).toBe('Garden › Spring › Under glass\nTomatoes in February.');
  });

  it('does not take lines in code fences for headings', () => {
    const chunks = chunkMarkdown('Script', '## Usage\n```bash\n# not a heading\nrun.sh\n```\nDone.');
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.content).toContain('# not a heading');
  });

  it('splits a long section at paragraph breaks, every piece within the limit and carrying the heading', () => {
    const paragraph = (n: number) => `Paragraph ${n}: ${'word '.repeat(60).trim()}.`;
    const body = `## Long\n${Array.from({ length: 12 }, (_, i) => paragraph(i)).join('\n\n')}`;
    const chunks = chunkMarkdown('Doc', body, 800);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      expect(chunk.content.length).toBeLessThanOrEqual(800);
      expect(chunk.content.startsWith('Doc › Long\n')).toBe(true);
    }
    expect(chunks.map((chunk) => chunk.content).join('\n')).toContain('Paragraph 11:');
  });

  it('gives a note with only a title one chunk', () => {
    expect(chunkMarkdown('Empty', '')).toEqual([{ heading: 'Empty', content: 'Empty' }]);
  });
});
