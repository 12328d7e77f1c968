/**
 * Loader for LoCoMo (locomo10.json: 10 long conversations with QA annotations; CC BY-NC 4.0,
 * evaluation only — read in place, never copied into the repository).
 *
 * Shape: [{ sample_id, conversation: { speaker_a, speaker_b, session_N: [{speaker, dia_id, text,
 * img_url?, blip_caption?, ...}], session_N_date_time: "1:56 pm on 8 May, 2023" }, qa: [{question,
 * answer, evidence: [dia_id], category}] , ...}]. Categories: 1 multi-hop, 2 temporal,
 * 3 open-domain, 4 single-hop, 5 adversarial (unanswerable; excluded from evidence recall).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const CATEGORY_NAMES: Readonly<Record<number, string>> = {
  1: 'multi-hop',
  2: 'temporal',
  3: 'open-domain',
  4: 'single-hop',
  5: 'adversarial',
};

export interface LocomoTurn {
  diaId: string;
  speaker: string;
  text: string;
  session: number;
  /** The session's date as ISO-8601 (UTC; the dataset gives no zone). */
  eventAt: string;
}

export interface LocomoQuestion {
  question: string;
  answer: unknown;
  category: number;
  /** Evidence as written in the file. */
  rawEvidence: string[];
  /** Evidence parsed into dia_ids (see `parseEvidence`). */
  evidence: string[];
}

export interface LocomoConversation {
  sampleId: string;
  speakers: [string, string];
  turns: LocomoTurn[];
  questions: LocomoQuestion[];
}

/** Where the data is: $LOCOMO_PATH, else ../shared/data/locomo10.json from the working directory. */
export function locomoPath(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return resolve(cwd, env.LOCOMO_PATH ?? '../shared/data/locomo10.json');
}

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

/** Parses LoCoMo's session time, e.g. "1:56 pm on 8 May, 2023" → "2023-05-08T13:56:00.000Z". */
export function parseSessionDate(value: string): string {
  const match = /^\s*(\d{1,2}):(\d{2})\s*([ap])\.?m\.?\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})\s*$/i.exec(value);
  if (!match) throw new Error(`unrecognised LoCoMo session date: ${JSON.stringify(value)}`);
  const [, h, min, ampm, day, monthName, year] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const month = MONTHS.findIndex((m) => m === monthName.toLowerCase() || m.slice(0, 3) === monthName.toLowerCase());
  if (month === -1) throw new Error(`unrecognised month in LoCoMo session date: ${JSON.stringify(value)}`);
  let hour = Number(h) % 12;
  if (ampm.toLowerCase() === 'p') hour += 12;
  const date = new Date(Date.UTC(Number(year), month, Number(day), hour, Number(min)));
  if (date.getUTCDate() !== Number(day) || Number(min) > 59 || Number(h) > 12) {
    throw new Error(`invalid LoCoMo session date: ${JSON.stringify(value)}`);
  }
  return date.toISOString();
}

/**
 * The annotators' evidence lists are mostly clean dia_ids ("D1:3"), with a few typos this
 * repairs: several ids in one string ("D8:6; D9:17", "D9:1 D4:4"), a stray colon ("D:11:26"),
 * a zero-padded turn ("D30:05"). Tokens that are not ids at all (a bare "D") are dropped.
 */
export function parseEvidence(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of raw) {
    for (const token of String(entry).split(/[\s;,]+/)) {
      const match = /^D:?(\d+):0*(\d+)$/.exec(token.trim());
      if (match) out.push(`D${match[1]}:${match[2]}`);
    }
  }
  return [...new Set(out)];
}

interface RawTurn {
  speaker: string;
  dia_id: string;
  text: string;
}

interface RawSample {
  sample_id: string;
  conversation: Record<string, unknown>;
  qa: { question: string; answer?: unknown; adversarial_answer?: unknown; evidence?: string[]; category: number }[];
}

export function loadLocomo(path: string): LocomoConversation[] {
  let raw: RawSample[];
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as RawSample[];
  } catch (error) {
    throw new Error(`cannot read LoCoMo data at ${path} (set LOCOMO_PATH): ${(error as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new Error(`${path}: expected a JSON array of conversations`);
  return raw.map((sample) => {
    const conv = sample.conversation;
    const sessions = Object.keys(conv)
      .map((key) => /^session_(\d+)$/.exec(key))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const turns: LocomoTurn[] = [];
    for (const session of sessions) {
      const list = conv[`session_${session}`] as RawTurn[];
      const when = conv[`session_${session}_date_time`];
      if (typeof when !== 'string') throw new Error(`${sample.sample_id}: session_${session} has no date`);
      const eventAt = parseSessionDate(when);
      for (const turn of list) {
        turns.push({ diaId: turn.dia_id, speaker: turn.speaker, text: turn.text, session, eventAt });
      }
    }
    return {
      sampleId: sample.sample_id,
      speakers: [String(conv.speaker_a), String(conv.speaker_b)],
      turns,
      questions: sample.qa.map((qa) => ({
        question: qa.question,
        answer: qa.answer ?? qa.adversarial_answer ?? null,
        category: qa.category,
        rawEvidence: qa.evidence ?? [],
        evidence: parseEvidence(qa.evidence ?? []),
      })),
    };
  });
}

export interface SelectedQuestions {
  kept: LocomoQuestion[];
  skipped: { category: number; noEvidence: number; unresolved: number };
}

/**
 * Questions usable for evidence recall: categories 1–4 (5 is adversarial), with at least one
 * evidence id, every one of which names a turn of the conversation.
 */
export function selectQuestions(conversation: LocomoConversation, categories = [1, 2, 3, 4]): SelectedQuestions {
  const ids = new Set(conversation.turns.map((turn) => turn.diaId));
  const skipped = { category: 0, noEvidence: 0, unresolved: 0 };
  const kept: LocomoQuestion[] = [];
  for (const question of conversation.questions) {
    if (!categories.includes(question.category)) skipped.category++;
    else if (question.evidence.length === 0) skipped.noEvidence++;
    else if (!question.evidence.every((id) => ids.has(id))) skipped.unresolved++;
    else kept.push(question);
  }
  return { kept, skipped };
}
