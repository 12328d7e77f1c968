/**
 * Deterministic synthetic data for the benchmarks: a seeded PRNG, varied memory-like sentences,
 * search queries drawn from the same vocabulary, and random unit vectors. No data files.
 */

/** mulberry32: small, fast, good enough for benchmark data. Returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;

const W = {
  name: 'Alice Bob Carmen Dmitri Elena Farid Grace Hiro Ines Jonas Kemal Lena Marco Nadia Omar Priya Quentin Rosa Sven Tariq Uma Victor Wen Yusuf Zoe'.split(
    ' ',
  ),
  relation:
    'sister brother mother father colleague manager neighbour friend cousin daughter son partner dentist landlord coach'.split(
      ' ',
    ),
  place:
    'Lisbon Berlin Osaka Nairobi Montreal Oslo Lima Hanoi Porto Dublin Kraków Seattle Tbilisi Valencia Cape-Town Reykjavik'.split(
      ' ',
    ),
  venue: 'office gym library café bakery clinic park station museum garage market studio harbour campus'.split(' '),
  food: 'ramen sourdough lentil soup oat milk espresso tofu curry dark chocolate sushi pierogi falafel tacos kimchi goat cheese'.split(
    ' ',
  ),
  hobby:
    'bouldering watercolour painting chess sailing pottery trail running jazz piano birdwatching knitting beekeeping salsa dancing woodworking astronomy'.split(
      ' ',
    ),
  tool: 'Postgres Kubernetes Rust Terraform React Grafana Redis Kafka Python Docker Vim Figma SQLite TypeScript'.split(
    ' ',
  ),
  project:
    'billing migration search revamp onboarding flow mobile app data pipeline audit log pricing page recommendation engine backup system'.split(
      ' ',
    ),
  weekday: 'Monday Tuesday Wednesday Thursday Friday Saturday Sunday'.split(' '),
  month: 'January February March April May June July August September October November December'.split(' '),
  feeling: 'excited nervous relieved annoyed curious proud exhausted optimistic worried delighted'.split(' '),
  allergy: 'peanuts shellfish penicillin pollen cats gluten lactose dust mites'.split(' '),
  colour: 'teal crimson ochre navy olive lavender charcoal mustard'.split(' '),
  book: 'Dune Middlemarch Beloved Solaris Piranesi Stoner Kindred Neuromancer Ulysses Gilead'.split(' '),
};

const TEMPLATES: readonly ((r: () => number) => string)[] = [
  (r) => `${pick(r, W.name)} prefers ${pick(r, W.food)} for lunch on ${pick(r, W.weekday)}s.`,
  (r) => `My ${pick(r, W.relation)} ${pick(r, W.name)} moved to ${pick(r, W.place)} in ${pick(r, W.month)}.`,
  (r) =>
    `Meeting with ${pick(r, W.name)} about the ${pick(r, W.project)} is every ${pick(r, W.weekday)} at ${1 + Math.floor(r() * 12)} ${r() < 0.5 ? 'am' : 'pm'}.`,
  (r) => `${pick(r, W.name)} is allergic to ${pick(r, W.allergy)} and keeps forgetting it at the ${pick(r, W.venue)}.`,
  (r) =>
    `The ${pick(r, W.project)} uses ${pick(r, W.tool)} and ${pick(r, W.tool)}; ${pick(r, W.name)} owns the rollout.`,
  (r) => `I started ${pick(r, W.hobby)} in ${pick(r, W.month)} and feel ${pick(r, W.feeling)} about it.`,
  (r) =>
    `${pick(r, W.name)} recommended the book ${pick(r, W.book)}; finished ${Math.floor(r() * 100)} percent so far.`,
  (r) =>
    `Flight to ${pick(r, W.place)} on ${1 + Math.floor(r() * 28)} ${pick(r, W.month)}, seat ${1 + Math.floor(r() * 40)}${pick(r, [...'ABCDEF'])}.`,
  (r) => `The ${pick(r, W.colour)} bike is locked outside the ${pick(r, W.venue)} near ${pick(r, W.place)} station.`,
  (r) =>
    `Remember that ${pick(r, W.name)}'s birthday is on ${1 + Math.floor(r() * 28)} ${pick(r, W.month)}; they like ${pick(r, W.food)}.`,
  (r) =>
    `We decided to migrate the ${pick(r, W.project)} from ${pick(r, W.tool)} to ${pick(r, W.tool)} by ${pick(r, W.month)}.`,
  (r) =>
    `${pick(r, W.name)} felt ${pick(r, W.feeling)} after the ${pick(r, W.hobby)} class at the ${pick(r, W.venue)}.`,
  (r) =>
    `Budget for the ${pick(r, W.project)} is ${10 + Math.floor(r() * 990)} thousand euros, approved by ${pick(r, W.name)}.`,
  (r) =>
    `Dentist appointment with my ${pick(r, W.relation)} on ${pick(r, W.weekday)} ${1 + Math.floor(r() * 28)} ${pick(r, W.month)}.`,
  (r) => `${pick(r, W.name)} and ${pick(r, W.name)} are planning a ${pick(r, W.hobby)} trip to ${pick(r, W.place)}.`,
  (r) =>
    `Favourite café order: ${pick(r, W.food)} with ${pick(r, W.food)}, ask ${pick(r, W.name)} for the loyalty card.`,
];

const QUERY_TEMPLATES: readonly ((r: () => number) => string)[] = [
  (r) => `What does ${pick(r, W.name)} like to eat?`,
  (r) => `Where did my ${pick(r, W.relation)} move?`,
  (r) => `When is the ${pick(r, W.project)} meeting?`,
  (r) => `Who is allergic to ${pick(r, W.allergy)}?`,
  (r) => `Which tools does the ${pick(r, W.project)} use?`,
  (r) => `How do I feel about ${pick(r, W.hobby)}?`,
  (r) => `${pick(r, W.name)} book recommendation`,
  (r) => `flight to ${pick(r, W.place)}`,
  (r) => `When is ${pick(r, W.name)}'s birthday?`,
  (r) => `budget approved by ${pick(r, W.name)} for ${pick(r, W.project)}`,
  (r) => `${pick(r, W.hobby)} trip plans`,
  (r) => `migration to ${pick(r, W.tool)}`,
];

/**
 * `count` distinct memory-like sentences. A repeat (a collision of template and words) gets a
 * short note appended, so every text is unique and none is skipped as a duplicate.
 */
export function memoryTexts(count: number, seed: number): string[] {
  const rand = prng(seed);
  const seen = new Set<string>();
  const out: string[] = [];
  while (out.length < count) {
    let text = pick(rand, TEMPLATES)(rand);
    if (seen.has(text)) text = `${text} (note ${out.length.toString(36)})`;
    seen.add(text);
    out.push(text);
  }
  return out;
}

export function queryTexts(count: number, seed: number): string[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => pick(rand, QUERY_TEMPLATES)(rand));
}

/** Standard-normal samples (Box–Muller) from a uniform PRNG. */
function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A random unit vector (uniform on the sphere), as the plain array the API accepts. */
export function unitVector(rand: () => number, dimension: number): number[] {
  const values = new Array<number>(dimension);
  let sum = 0;
  for (let i = 0; i < dimension; i++) {
    const x = gaussian(rand);
    values[i] = x;
    sum += x * x;
  }
  const norm = Math.sqrt(sum) || 1;
  for (let i = 0; i < dimension; i++) values[i] = (values[i] as number) / norm;
  return values;
}

/** Cluster centres `clusteredVector` draws around. */
const CENTRES = 1_000;

/**
 * Vectors with neighbourhoods, as embeddings of real text have: each is a random one of
 * `CENTRES` fixed random directions plus Gaussian noise of about the same length (cosine to its
 * centre ≈ 0.7), normalised. Uniform random vectors have no structure at all, which makes
 * approximate (HNSW) search and index building look far worse than on real data.
 */
export function clusteredVectors(seed: number, dimension: number): () => number[] {
  const rand = prng(seed);
  const centreRand = prng(9_001); // the same centres for every seed: loads add to one corpus
  const centres = Array.from({ length: CENTRES }, () => unitVector(centreRand, dimension));
  const sigma = 1 / Math.sqrt(dimension);
  return () => {
    const centre = centres[Math.floor(rand() * CENTRES)] as number[];
    const values = centre.map((x) => x + sigma * gaussian(rand));
    const norm = Math.sqrt(values.reduce((sum, x) => sum + x * x, 0)) || 1;
    return values.map((x) => x / norm);
  };
}
