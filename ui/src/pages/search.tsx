import { useState } from 'preact/hooks';
import { api, type Explanation, errorMessage, type Filters, type SearchResult } from '../api';
import { ErrorNote } from './error-note';
import { FilterFields } from './filters';
import { Highlight } from './highlight';

/** Why a result ranked where it did, in words: the signals, their ranks and the boosts. */
export function explain(explanation: Explanation): string[] {
  const lines: string[] = [];
  const { keyword, vector, fusion, context, recency, relevance } = explanation;
  const covers = keyword?.coverage === undefined ? '' : `, covers ${Math.round(keyword.coverage * 100)}% of the query`;
  lines.push(keyword ? `keyword #${keyword.rank} (BM25 ${keyword.score.toFixed(2)}${covers})` : 'no keyword match');
  lines.push(vector ? `vector #${vector.rank} (cosine ${vector.similarity.toFixed(3)})` : 'no vector match');
  if (fusion) {
    lines.push(
      `fused by ${fusion.method.toUpperCase()} k ${fusion.k}, weights ${fusion.keywordWeight} / ${fusion.vectorWeight}`,
    );
  }
  if (context && context.boost > 0)
    lines.push(`+${context.boost.toFixed(4)} from ${context.from.length} neighbouring turns`);
  if (recency) lines.push(`recency ×${recency.factor.toFixed(2)} (${Math.round(recency.ageDays)} days old)`);
  if (relevance?.similarity !== null && relevance?.similarity !== undefined) {
    const { similarity, minRelevance } = relevance;
    lines.push(
      `${similarity >= minRelevance ? 'relevant' : 'weak'}: cosine ${similarity.toFixed(3)} (threshold ${minRelevance})`,
    );
  }
  return lines;
}

/** One result card. */
function ResultCard({ result, searched }: { result: SearchResult; searched: string }) {
  return (
    <li class={result.relevant ? 'card' : 'card weak'}>
      <p class="content">
        <Highlight text={result.memory.content} query={searched} />
      </p>
      <p class="meta">
        score {result.score.toFixed(4)} · {result.memory.category}
        {result.memory.tags.length > 0 && ` · ${result.memory.tags.join(', ')}`} ·{' '}
        <a href={`#/memories/${encodeURIComponent(result.memory.id)}`}>details</a>
      </p>
      <ul class="explanation" aria-label="Why this result">
        {explain(result.explanation).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
    </li>
  );
}

/** How many results a search may show; the choice is remembered in this browser. */
const LIMITS = [10, 25, 50, 100] as const;
const LIMIT_KEY = 'engram.searchLimit';
const savedLimit = (): number => {
  const saved = Number(localStorage.getItem(LIMIT_KEY));
  return (LIMITS as readonly number[]).includes(saved) ? saved : 25;
};

export function Search() {
  const [text, setText] = useState('');
  const [limit, setLimit] = useState(savedLimit);
  const [mode, setMode] = useState<Explanation['mode']>('hybrid');
  const [filters, setFilters] = useState<Filters>({});
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [searched, setSearched] = useState('');
  const [tookMs, setTookMs] = useState(0);
  const [error, setError] = useState<string | null>(null);

  const relevant = results?.filter((result) => result.relevant) ?? [];
  const weak = results?.filter((result) => !result.relevant) ?? [];

  const run = async (query: string, count: number) => {
    setError(null);
    try {
      const response = await api.search(query, mode, filters, count);
      setResults(response.results);
      setSearched(query);
      setTookMs(response.timings.totalMs);
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };
  const submit = (event: Event) => {
    event.preventDefault();
    void run(text, limit);
  };
  /** A new limit applies at once to the search on the page. */
  const changeLimit = (count: number) => {
    setLimit(count);
    localStorage.setItem(LIMIT_KEY, String(count));
    if (results && searched) void run(searched, count);
  };

  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">Search</h1>
      <form aria-label="Search memories" onSubmit={submit}>
        <div class="row">
          <label class="grow">
            Query{' '}
            <input
              name="query"
              type="search"
              value={text}
              onInput={(event) => setText((event.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Mode{' '}
            <select
              name="mode"
              value={mode}
              onChange={(event) => setMode((event.target as HTMLSelectElement).value as Explanation['mode'])}
            >
              <option value="hybrid">hybrid</option>
              <option value="keyword">keyword</option>
              <option value="vector">vector</option>
            </select>
          </label>
          <label>
            Results{' '}
            <select
              name="limit"
              value={limit}
              onChange={(event) => changeLimit(Number((event.target as HTMLSelectElement).value))}
            >
              {LIMITS.map((count) => (
                <option key={count} value={count}>
                  {`up to ${count}`}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Search</button>
        </div>
        <FilterFields onChange={setFilters} />
      </form>
      <ErrorNote error={error} />
      {results && (
        <p class="help" aria-live="polite">
          {relevant.length === 0 ? 'No relevant results' : `${relevant.length} relevant results`}
          {weak.length > 0 && ` · ${weak.length} weak`} · in {tookMs.toFixed(1)} ms
          {results.length === limit && ` · limited to ${limit}: raise Results for more`}
        </p>
      )}
      <ol class="results" aria-label="Relevant results">
        {relevant.map((result) => (
          <ResultCard key={result.memory.id} result={result} searched={searched} />
        ))}
      </ol>
      {weak.length > 0 && (
        <section aria-labelledby="weak-title">
          <h2 id="weak-title" class="weak-title">
            Weak matches
          </h2>
          <p class="help">Less similar to the query than the relevance threshold: probably not what you are after.</p>
          <ol class="results weak-results" aria-label="Weak matches">
            {weak.map((result) => (
              <ResultCard key={result.memory.id} result={result} searched={searched} />
            ))}
          </ol>
        </section>
      )}
    </section>
  );
}
