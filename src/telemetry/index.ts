export { httpSpans, traced } from './spans.js';
export { startTracing, type Tracing, tracesEndpoint, tracingEnabled } from './tracing.js';
