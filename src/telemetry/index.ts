export { httpSpans, routeLabel, traced } from './spans.js';
export { startTracing, type Tracing, tracesEndpoint, tracingEnabled } from './tracing.js';
