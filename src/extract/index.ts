export { Extractor, type ExtractorOptions, type ExtractorStats } from './extractor.js';
export { isoDate, sanitizeFacts } from './output.js';
