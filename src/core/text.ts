/** Text handling shared by keyword search in every store. */

// A short English stop-word list: words that carry no topic and only add noise to keyword matching.
const STOP_WORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have he her hers him his how i if in ' +
    'into is it its me my no not of on or our ours she so than that the their them then there these they this those ' +
    'to too us was we were what when where which who whom why will with would you your yours'
  ).split(' '),
);

export const isStopWord = (word: string): boolean => STOP_WORDS.has(word);

/** Lower-cased words (letters and digits of any script), diacritics removed. */
export function words(text: string): string[] {
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** The distinct words of a query worth matching on, in order of first appearance. */
export function queryTerms(query: string, maxTerms = 64): string[] {
  const seen = new Set<string>();
  for (const word of words(query)) {
    if (STOP_WORDS.has(word) || seen.has(word)) continue;
    seen.add(word);
    if (seen.size >= maxTerms) break;
  }
  return [...seen];
}
