/**
 * `npm run eval`: search quality on a dataset — `locomo` (the default; LoCoMo from ../shared,
 * evidence recall) or `personal` (eval/personal, first-hit quality and "nothing relevant").
 *
 *   npm run eval -- [--dataset locomo|personal] [dataset options]
 */

/** `--dataset <name>` or `--dataset=<name>` taken out of argv, so each evaluation reads only its own options. */
function takeDataset(argv: string[]): string {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--dataset') return argv.splice(i, 2)[1] ?? '';
    if (arg.startsWith('--dataset=')) return (argv.splice(i, 1)[0] as string).slice('--dataset='.length);
  }
  return 'locomo';
}

const dataset = takeDataset(process.argv);
if (dataset === 'personal') await import('./personal.js');
else if (dataset === 'locomo') await import('./locomo.js');
else {
  process.stderr.write(`unknown dataset ${JSON.stringify(dataset)}: use locomo or personal\n`);
  process.exitCode = 2;
}
